#include "client/ljctl_image.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "client/http_client.hpp"
#include "client/ljctl_args.hpp"
#include "client/ljctl_format.hpp"

namespace lj::ljctl {

using nlohmann::json;
namespace fs = std::filesystem;

std::string image_path(const std::string& ref) {
  std::string out = "/v1/images";
  std::size_t i = 0;
  while (i <= ref.size()) {
    std::size_t j = ref.find('/', i);
    if (j == std::string::npos) j = ref.size();
    // ':' and '@' stay as they are: legal in a path segment (RFC 3986 pchar), and ljd's router
    // matches the path as sent, without percent-decoding it.
    std::string part;
    for (char ch : ref.substr(i, j - i)) {
      part += ch == ':' || ch == '@' ? std::string(1, ch) : client::url_encode(std::string(1, ch));
    }
    out += "/" + part;
    i = j + 1;
  }
  return out;
}

std::unique_ptr<ImageCommands> add_image_commands(
    const std::function<CLI::App*(const char*, const char*)>& sub) {
  auto c = std::make_unique<ImageCommands>();
  c->pull = sub("pull", "pull an image from a registry, drawing each layer's progress");
  c->pull->add_option("REF", c->ref, "the image: [registry/]repository[:tag|@digest]")->required();
  c->pull->add_option("--insecure", c->insecure,
                      "registry (host:port) to reach over plain HTTP (127.0.0.0/8 always is)")
      ->allow_extra_args(false);
  c->pull->add_flag("--allow-devices", c->allow_devices, "keep device nodes found in layers");
  c->pull->add_flag("-q,--quiet", c->quiet, "no progress; print the image id");

  c->push = sub("push", "push a stored image to a registry");
  c->push->add_option("REF", c->ref, "the stored image")->required();
  c->push->add_option("DEST", c->dest, "where to (default: REF itself)");
  c->push->add_option("--insecure", c->insecure, "registry to reach over plain HTTP")
      ->allow_extra_args(false);
  c->push->add_flag("-q,--quiet", c->quiet, "no progress");

  c->images = sub("images", "list images");
  c->images->add_flag("-q,--quiet", c->quiet, "print image ids only");

  c->load = sub("load", "import images from an OCI layout, OCI archive or docker archive");
  c->load->add_option("SOURCE", c->source, "a file or directory on ljd's host")->required();
  c->load->add_option("--name", c->name, "name the image (when the source names none)");
  c->load->add_flag("--allow-devices", c->allow_devices, "keep device nodes found in layers");

  c->save = sub("save", "write a stored image to a new file on ljd's host, as an OCI archive");
  c->save->add_option("REF", c->ref, "the image")->required();
  c->save->add_option("-o,--output", c->output, "the archive (must not exist; root only)")
      ->required();

  c->login = sub("login", "check credentials against a registry and keep them for ljd's pulls and pushes");
  c->login->add_option("REGISTRY", c->ref, "host[:port]")->required();
  c->login->add_option("-u,--username", c->username, "the user")->required();
  c->login->add_option("-p,--password", c->password, "the password (visible to ps: prefer --password-stdin)");
  c->login->add_flag("--password-stdin", c->password_stdin, "read the password from stdin");
  c->login->add_option("--insecure", c->insecure, "registry to reach over plain HTTP")
      ->allow_extra_args(false);
  c->logout = sub("logout", "forget a registry's credentials");
  c->logout->add_option("REGISTRY", c->ref, "host[:port]")->required();

  c->tag = sub("tag", "give an image another name");
  c->tag->add_option("REF", c->ref, "the image")->required();
  c->tag->add_option("NEWREF", c->dest, "its new name")->required();

  CLI::App* image = sub("image", "manage images");
  image->require_subcommand(1);
  auto add = [&](const char* name, const char* help) {
    CLI::App* s = image->add_subcommand(name, help);
    // The global options, as on every command (ljctl.cpp's add_globals is not reachable here:
    // the parent's are inherited through fallthrough).
    s->fallthrough();
    return s;
  };
  image->fallthrough();
  c->rm = add("rm", "remove image names (the content stays until prune)");
  c->rm->add_option("REF", c->refs, "images to remove")->required();
  c->inspect = add("inspect", "show images as JSON");
  c->inspect->add_option("REF", c->refs, "images")->required();
  c->prune = add("prune", "remove every blob and layer that no name and no jail uses");
  c->export_ = add("export", "make an OCI image of an overlay chain, one layer per overlay");
  c->export_->add_option("OVERLAY", c->source, "NAMESPACE/NAME[@CONSTRAINT]")->required();
  c->export_->add_option("REF", c->dest, "the image's name")->required();
  c->export_->add_flag("--no-base", c->no_base,
                       "leave the chain's world (or base image) out: overlay layers only");
  return c;
}

namespace {

int report(const Error& e) {
  std::fprintf(stderr, "ljctl: %s\n", e.what().c_str());
  return kExitError;
}

void outln(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

std::string short_id(const std::string& digest) {
  auto colon = digest.find(':');
  return colon == std::string::npos ? digest : digest.substr(colon + 1, 12);
}

// One layer's line: "3f1a9c2e0b4d  fetching  12.0M/48.0M".
std::string layer_line(const json& l) {
  std::string what = l["index"].is_null() ? "config      " : short_id(l.value("digest", ""));
  std::string line = what + "  " + l.value("state", "");
  std::uint64_t total = l.value("total", std::uint64_t{0});
  if (total > 0) {
    line += "  " + human_size(l.value("done", std::uint64_t{0})) + "/" + human_size(total);
  }
  return line;
}

// Follows a job until it ends: on a terminal, the layers' lines redrawn in place; otherwise one
// line per change of a layer's state. Returns the ended job.
Result<json> follow_job(Api& api, json job, bool quiet) {
  const bool tty = !quiet && ::isatty(STDERR_FILENO);
  std::map<std::string, std::string> shown;  // per layer, the last state printed (not a tty)
  std::size_t drawn = 0;                      // lines drawn last time (tty)
  const std::string id = job.value("id", "");
  for (;;) {
    json layers = job["progress"].is_object() ? job["progress"].value("layers", json::array())
                                              : json::array();
    if (tty) {
      std::string buf;
      if (drawn > 0) buf += "\x1b[" + std::to_string(drawn) + "F";  // back to the first line
      for (const auto& l : layers) buf += layer_line(l) + "\x1b[K\n";
      std::fputs(buf.c_str(), stderr);
      drawn = layers.size();
    } else if (!quiet) {
      for (const auto& l : layers) {
        std::string key = l.value("digest", "");
        std::string state = l.value("state", "");
        if (shown[key] == state) continue;
        shown[key] = state;
        std::fprintf(stderr, "%s\n", layer_line(l).c_str());
      }
    }
    if (job.value("state", "") != "running") return job;
    auto w = api.call("GET", "/v1/image_jobs/" + client::url_encode(id) + "/wait?timeout_s=0.25");
    if (!w) return tl::unexpected(w.error());
    job = (*w)["job"];
  }
}

// Starts a job with POST `path` and follows it; prints the images it produced.
int run_job(Api& api, bool as_json, const std::string& path, const json& body, bool quiet,
            const char* verb) {
  auto started = api.call("POST", path, &body);
  if (!started) return report(started.error());
  auto job = follow_job(api, *started, quiet || as_json);
  if (!job) return report(job.error());
  if (as_json) {
    outln(job->dump());
  }
  if (job->value("state", "") != "succeeded") {
    json err = job->value("error", json());
    std::string why = err.is_object() ? err.value("message", err.dump()) : cell(err);
    std::fprintf(stderr, "ljctl: %s failed: %s\n", verb, why.c_str());
    return kExitFailed;
  }
  if (!as_json) {
    const json& r = (*job)["result"];
    for (const auto& i : r.value("images", json::array())) {
      std::string ref = i["reference"].is_string() ? i["reference"].get<std::string>() : "";
      outln(quiet || ref.empty() ? i.value("id", "") : ref + " " + i.value("id", ""));
    }
  }
  return 0;
}

int show_images(Api& api, bool as_json, bool quiet) {
  auto list = api.call("GET", "/v1/images");
  if (!list) return report(list.error());
  if (as_json) {
    outln(list->dump());
    return 0;
  }
  if (quiet) {
    for (const auto& i : *list) outln(i.value("id", ""));
    return 0;
  }
  Table t({"REFERENCE", "ID", "PLATFORM", "LAYERS", "SIZE"});
  for (const auto& i : *list) {
    json names = i.value("references", json::array());
    if (names.empty()) names.push_back("<none>");
    for (const auto& n : names) {
      t.add({n.get<std::string>(), short_id(i.value("id", "")), i.value("platform", "-"),
             std::to_string(i.value("layers", json::array()).size()),
             human_size(i.value("size_bytes", std::uint64_t{0}))});
    }
  }
  std::fputs(t.str().c_str(), stdout);
  return 0;
}

}  // namespace

int run_image_command(ImageCommands& c, Api& api, bool as_json) {
  json insecure = c.insecure;
  if (c.pull->parsed()) {
    json body = {{"reference", c.ref}};
    if (!c.insecure.empty()) body["insecure"] = insecure;
    if (c.allow_devices) body["allow_devices"] = true;
    return run_job(api, as_json, "/v1/images/pull", body, c.quiet, "pull");
  }
  if (c.push->parsed()) {
    json body = {{"reference", c.ref}};
    if (!c.dest.empty()) body["destination"] = c.dest;
    if (!c.insecure.empty()) body["insecure"] = insecure;
    return run_job(api, as_json, "/v1/images/push", body, c.quiet, "push");
  }
  if (c.load->parsed()) {
    std::error_code ec;
    fs::path src(c.source);
    if (src.is_relative()) src = (fs::current_path(ec) / src).lexically_normal();
    json body = {{"source", src.string()}};
    if (!c.name.empty()) body["name"] = c.name;
    if (c.allow_devices) body["allow_devices"] = true;
    return run_job(api, as_json, "/v1/images/load", body, false, "load");
  }
  if (c.save->parsed()) {
    std::error_code ec;
    fs::path out(c.output);
    if (out.is_relative()) out = (fs::current_path(ec) / out).lexically_normal();
    json body = {{"reference", c.ref}, {"destination", out.string()}};
    return run_job(api, as_json, "/v1/images/save", body, true, "save");
  }
  if (c.export_->parsed()) {
    auto at = c.source.find('@');
    json body = {{"overlay", c.source.substr(0, at)}, {"reference", c.dest}};
    if (at != std::string::npos) body["version"] = c.source.substr(at + 1);
    if (c.no_base) body["include_base"] = false;
    return run_job(api, as_json, "/v1/images/export", body, false, "export");
  }
  if (c.login->parsed()) {
    std::string password = c.password;
    if (c.password_stdin) {
      if (!password.empty()) {
        std::fprintf(stderr, "ljctl: --password and --password-stdin: give one\n");
        return kExitError;
      }
      std::getline(std::cin, password);
      if (!password.empty() && password.back() == '\r') password.pop_back();
    }
    json body = {{"registry", c.ref}, {"username", c.username}, {"password", password}};
    if (!c.insecure.empty()) body["insecure"] = insecure;
    auto r = api.call("POST", "/v1/images/login", &body);
    if (!r) return report(r.error());
    outln(as_json ? r->dump() : "Login Succeeded");
    return 0;
  }
  if (c.logout->parsed()) {
    json body = {{"registry", c.ref}};
    auto r = api.call("POST", "/v1/images/logout", &body);
    if (!r) return report(r.error());
    outln(as_json ? r->dump() : "Removed login credentials for " + c.ref);
    return 0;
  }
  if (c.images->parsed()) return show_images(api, as_json, c.quiet);
  if (c.tag->parsed()) {
    json body = {{"source", c.ref}, {"target", c.dest}};
    auto r = api.call("POST", "/v1/images/tag", &body);
    if (!r) return report(r.error());
    outln(as_json ? r->dump() : c.dest);
    return 0;
  }
  if (c.rm->parsed() || c.inspect->parsed()) {
    int status = 0;
    json all = json::array();
    for (const auto& ref : c.refs) {
      auto r = api.call(c.rm->parsed() ? "DELETE" : "GET", image_path(ref));
      if (!r) {
        status = report(r.error());
        continue;
      }
      if (c.inspect->parsed()) {
        all.push_back(*r);
      } else {
        outln(as_json ? r->dump() : ref);
      }
    }
    if (c.inspect->parsed() && !all.empty()) outln(all.dump(2));
    return status;
  }
  if (c.prune->parsed()) {
    auto r = api.call("POST", "/v1/images/prune");
    if (!r) return report(r.error());
    if (as_json) {
      outln(r->dump());
    } else {
      outln("removed " + std::to_string(r->value("blobs_removed", 0)) + " blobs, " +
            std::to_string(r->value("layers_removed", 0)) + " layers, " +
            human_size(r->value("bytes_freed", std::uint64_t{0})));
    }
    return 0;
  }
  return -1;
}

}  // namespace lj::ljctl
