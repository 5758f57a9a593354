#include "daemon/ndjson_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/log.hpp"

namespace lj::daemon {

std::string output_fields(int stream, std::string_view data) {
  std::string f = stream == 0 ? R"(,"stream":"stdout",)" : R"(,"stream":"stderr",)";
  // Text stays text unless its escapes (a control byte is 6 bytes as \u0000) more than double
  // it: NUL-heavy output must not multiply on disk, and base64 is 4/3. Short pieces of terminal
  // output ("x\r\n") stay readable text, as clients reading only "data" for them expect.
  if (is_utf8(data)) {
    std::string text = nlohmann::json(std::string(data)).dump();
    if (text.size() <= 2 * data.size() + 16) {
      f += R"("data":)";
      f += text;
      return f;
    }
  }
  f += R"("data_base64":")";
  f += base64_encode(data);
  f += '"';
  return f;
}

bool output_of(std::string_view record, int* stream, std::string* data) {
  auto j = nlohmann::json::parse(record, nullptr, false);
  if (!j.is_object()) return false;
  auto s = j.find("stream");
  if (s == j.end() || !s->is_string()) return false;
  *stream = *s == "stderr" ? 1 : 0;
  if (auto d = j.find("data"); d != j.end() && d->is_string()) {
    *data = d->get<std::string>();
    return true;
  }
  if (auto b = j.find("data_base64"); b != j.end() && b->is_string()) {
    auto bytes = base64_decode(b->get_ref<const std::string&>());
    if (!bytes) return false;
    *data = std::move(*bytes);
    return true;
  }
  return false;
}

std::uint64_t record_seq(std::string_view line) {
  constexpr std::string_view kPrefix = R"({"seq":)";
  if (line.substr(0, kPrefix.size()) != kPrefix) return 0;
  std::uint64_t n = 0;
  std::from_chars(line.data() + kPrefix.size(), line.data() + line.size(), n);
  return n;
}

std::uint64_t replay_records(const std::string& path, std::uint64_t after, StreamWriter* w) {
  std::ifstream in(path);
  std::string line;
  std::uint64_t last = 0;
  while (std::getline(in, line)) {
    std::uint64_t seq = record_seq(line);
    if (seq == 0) continue;
    last = seq;
    if (w && seq > after) w->write(std::move(line));
  }
  return last;
}

RecordLog::RecordLog(std::string path) : path_(std::move(path)) {
  seq_ = replay_records(path_, 0, nullptr);
  fd_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd_) lj::log("daemon")->warn("{}", Error::from_errno("daemon", "open " + path_).what());
  struct stat st {};
  if (fd_ && ::fstat(fd_.get(), &st) == 0) bytes_ = static_cast<std::uint64_t>(st.st_size);
}

void RecordLog::append(std::string_view fields, std::size_t backlog_limit) {
  std::uint64_t seq = ++seq_;
  std::string line = R"({"seq":)" + std::to_string(seq);
  line.append(fields);
  line += "}\n";
  if (fd_) {
    ssize_t n = ::write(fd_.get(), line.data(), line.size());
    if (n < 0) {
      lj::log("daemon")->warn("{}", Error::from_errno("daemon", "write " + path_).what());
    } else {
      bytes_ += static_cast<std::uint64_t>(n);
    }
  }
  line.pop_back();
  for (auto f = followers_.begin(); f != followers_.end();) {
    if (f->after >= seq) {
      ++f;
      continue;
    }
    if (!f->w->write(line)) {
      f = followers_.erase(f);
      continue;
    }
    if (f->w->backlog() > backlog_limit) {
      // Told, never silently dropped: the client resumes with after=<seq>.
      f->w->write(nlohmann::json{{"type", "lagged"}, {"seq", seq}, {"resume_after", seq}}.dump());
      f->w->end();
      f = followers_.erase(f);
      continue;
    }
    ++f;
  }
}

void RecordLog::follow(std::shared_ptr<StreamWriter> w, std::uint64_t after) {
  followers_.push_back(Follower{std::move(w), after});
}

void RecordLog::end_followers(const std::string& end_record) {
  for (auto& f : followers_) {
    f.w->write(end_record);
    f.w->end();
  }
  followers_.clear();
}

}  // namespace lj::daemon
