#include "oci/state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/fd.hpp"

namespace lj::oci {

const char* status_name(Status s) {
  switch (s) {
    case Status::creating: return "creating";
    case Status::created: return "created";
    case Status::running: return "running";
    case Status::paused: return "paused";
    case Status::stopped: return "stopped";
  }
  return "unknown";
}

lj::Status check_id(const std::string& id) {
  const bool ok = !id.empty() && id.size() <= 64 && id != "." && id != ".." &&
                  std::all_of(id.begin(), id.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
                  });
  if (!ok)
    return fail(Errc::invalid_argument, "oci",
                "invalid container id '" + id + "': 1-64 characters of [A-Za-z0-9_.-]");
  return {};
}

lj::Status StateDir::make(const std::string& id) const {
  LJ_TRY(check_id(id));
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) return fail_errno("oci", "mkdir " + root_.string(), ec.value());
  auto exists = [&] { return fail(Errc::exists, "oci", "container with id " + id + " exists"); };
  if (::mkfifo(fifo(id).c_str(), 0600) != 0) {
    if (errno == EEXIST) return exists();
    return fail_errno("oci", "mkfifo " + fifo(id).string());
  }
  // A started container has no fifo but its state: the state is saved before the fifo goes
  // (start), so a claim made after that finds it.
  struct stat sb {};
  if (::lstat(state_file(id).c_str(), &sb) == 0) {
    ::unlink(fifo(id).c_str());
    return exists();
  }
  return {};
}

lj::Status StateDir::save(const ContainerState& s) const {
  nlohmann::json j = {{"id", s.id},
                      {"ociVersion", s.oci_version},
                      {"bundle", s.bundle.string()},
                      {"name", s.handle.name},
                      {"pid", s.handle.pid},
                      {"start_time", s.handle.start_time},
                      {"cgroup", s.handle.cgroup},
                      {"status_file", s.handle.status_file},
                      {"command_is_init", s.handle.command_is_init},
                      {"created", s.created},
                      {"annotations", s.annotations},
                      {"config", s.config}};
  const std::string text = j.dump();
  const auto tmp = file(s.id, ".json.tmp");
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return fail_errno("oci", "open " + tmp.string());
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return fail_errno("oci", "write " + tmp.string());
  if (::rename(tmp.c_str(), state_file(s.id).c_str()) != 0)
    return fail_errno("oci", "rename " + tmp.string());
  return {};
}

Result<ContainerState> StateDir::load(const std::string& id) const {
  LJ_TRY(check_id(id));
  std::ifstream in(state_file(id));
  if (!in) return fail(Errc::not_found, "oci", "container " + id + " does not exist");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    auto j = nlohmann::json::parse(ss.str());
    ContainerState s;
    s.id = j.at("id").get<std::string>();
    s.oci_version = j.at("ociVersion").get<std::string>();
    s.bundle = j.at("bundle").get<std::string>();
    s.handle.name = j.at("name").get<std::string>();
    s.handle.pid = j.at("pid").get<pid_t>();
    s.handle.start_time = j.at("start_time").get<std::uint64_t>();
    s.handle.cgroup = j.at("cgroup").get<std::string>();
    s.handle.status_file = j.at("status_file").get<std::string>();
    s.handle.command_is_init = j.value("command_is_init", false);  // an older ljoci's: lj-init
    s.created = j.at("created").get<std::string>();
    s.annotations = j.at("annotations").get<std::map<std::string, std::string>>();
    s.config = j.value("config", "");
    return s;
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::internal, "oci", "state of " + id + " unreadable: " + e.what());
  }
}

std::vector<std::string> StateDir::ids() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root_, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || !name.ends_with(".json")) continue;
    std::string id = name.substr(0, name.size() - 5);
    if (check_id(id)) out.push_back(std::move(id));
  }
  std::sort(out.begin(), out.end());
  return out;
}

void StateDir::remove(const std::string& id) const {
  for (const auto& f : {fifo(id), paused_mark(id), exit_file(id), file(id, ".json.tmp"), state_file(id)})
    ::unlink(f.c_str());
}

Status StateDir::status(const ContainerState& s) const {
  // The same process (pid and start time) and not a zombie: alive.
  if (!process_lives(s.handle.pid, s.handle.start_time)) return Status::stopped;
  struct stat sb {};
  if (::lstat(fifo(s.id).c_str(), &sb) == 0) return Status::created;
  if (::lstat(paused_mark(s.id).c_str(), &sb) == 0) return Status::paused;
  return Status::running;
}

std::string state_json(const ContainerState& s, Status st, bool for_list) {
  nlohmann::json j;
  j["ociVersion"] = s.oci_version;
  j["id"] = s.id;
  j["status"] = status_name(st);
  j["pid"] = st == Status::stopped ? 0 : s.handle.pid;
  j["bundle"] = s.bundle.string();
  if (for_list) {
    j["rootfs"] = (s.bundle / "rootfs").string();
    j["created"] = s.created;
    j["owner"] = "";
  } else {
    j["rootfs"] = (s.bundle / "rootfs").string();
    j["created"] = s.created;
    j["owner"] = "";
  }
  j["annotations"] = s.annotations;
  return j.dump(2);
}

}  // namespace lj::oci
