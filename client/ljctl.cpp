#include "client/ljctl.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client/ljctl_api.hpp"
#include "client/ljctl_args.hpp"
#include "client/ljctl_attach.hpp"
#include "client/ljctl_exec.hpp"
#include "client/ljctl_format.hpp"
#include "client/ljctl_network.hpp"
#include "client/ljctl_image.hpp"
#include "common/base64.hpp"

namespace lj::ljctl {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Set by SIGINT/SIGTERM while `ljctl run` follows a jail; the HTTP client looks at it.
volatile std::sig_atomic_t g_interrupt = 0;

extern "C" void on_interrupt(int) {
  g_interrupt = 1;
}

// No SA_RESTART: a blocked read returns EINTR and the client sees the flag at once.
void catch_interrupts() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void out(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
}
void outln(std::string_view s) {
  out(s);
  out("\n");
}
int report(const Error& e) {
  std::fflush(stdout);
  std::fprintf(stderr, "ljctl: %s\n", e.what().c_str());
  return kExitError;
}
int report(const std::string& line) {
  std::fflush(stdout);
  std::fprintf(stderr, "ljctl: %s\n", line.c_str());
  return kExitError;
}

// "512M" for a resource's size_bytes; "-" when unknown (null, as for a world ljd did not import).
std::string size_cell(const json& j) {
  auto it = j.find("size_bytes");
  if (it == j.end() || !it->is_number_unsigned()) return "-";
  return human_size(it->get<std::uint64_t>());
}

std::string seg(std::string_view s) {
  return client::url_encode(s);
}

std::chrono::system_clock::time_point now() {
  return std::chrono::system_clock::now();
}

// The global options, accepted before or after the command name.
struct Globals {
  std::string socket;
  bool json = false;
};

// ---- jails -----------------------------------------------------------------------------------

std::string jail_path(const std::string& id) {
  return "/v1/jails/" + seg(id);
}

// Prints one log record (NDJSON) of a jail or build; false when it is the end record.
struct LogState {
  std::uint64_t after = 0;  // last seq printed
  std::optional<json> end;  // the end record, once seen
  bool lagged = false;      // the daemon cut us off: resume with after
};

bool print_log_line(std::string_view line, bool raw, LogState& st, std::string_view prefix = {}) {
  json j = json::parse(line, nullptr, false);
  if (!j.is_object()) return true;
  std::string type = j.value("type", "");
  if (type == "heartbeat") return true;
  if (type == "lagged") {
    st.lagged = true;
    if (j.contains("resume_after") && j["resume_after"].is_number_unsigned()) {
      st.after = j["resume_after"].get<std::uint64_t>();
    }
    return true;
  }
  if (raw) {
    outln(line);
    std::fflush(stdout);
  }
  if (type == "end") {
    st.end = j;
    return true;
  }
  if (j.contains("seq") && j["seq"].is_number_unsigned()) st.after = j["seq"].get<std::uint64_t>();
  if (raw) return true;
  std::string data = j.value("data", "");
  if (auto b = j.find("data_base64"); b != j.end() && b->is_string()) {
    // Output that is not UTF-8 (binary), as it was written (proto/openapi.yaml, LogRecord).
    auto bytes = base64_decode(b->get_ref<const std::string&>());
    if (!bytes) {
      std::fprintf(stderr, "ljctl: a log record's data_base64 is not base64 (seq %s)\n",
                   j.value("seq", json()).dump().c_str());
      return true;
    }
    data = std::move(*bytes);
  }
  if (data.empty()) return true;
  FILE* f = j.value("stream", "stdout") == "stderr" ? stderr : stdout;
  if (!prefix.empty()) {
    // Builds: every line carries the elapsed time.
    std::fwrite(prefix.data(), 1, prefix.size(), f);
  }
  std::fwrite(data.data(), 1, data.size(), f);
  if (!prefix.empty() && data.back() != '\n') std::fputc('\n', f);
  std::fflush(f);
  return true;
}

// Notes on stderr for an exit that needs explaining, then the status to exit with.
int finish_with_exit(const std::string& id, const json& exit, bool quiet) {
  int status = exit_status(exit);
  if (!quiet && exit.is_object()) {
    if (exit.value("oom", false)) {
      std::fprintf(stderr, "ljctl: jail %s was killed: out of memory (raise --memory)\n",
                   id.c_str());
    } else if (exit.value("timed_out", false)) {
      std::fprintf(stderr, "ljctl: jail %s was killed: it ran past its --timeout\n", id.c_str());
    } else if (exit.value("lost", false)) {
      std::fprintf(stderr,
                   "ljctl: the exit status of jail %s is unknown: ljd lost it (it was restarted "
                   "while the jail ran)\n",
                   id.c_str());
    }
  }
  if (!exit.is_object()) {
    std::fprintf(stderr, "ljctl: jail %s has no exit record — see `ljctl inspect %s`\n", id.c_str(),
                 id.c_str());
  }
  return status;
}

// Prints a 2xx body as the API's JSON (--json) or as `human` says.
template <class F>
int show(Api& api, const Globals& g, const std::string& method, const std::string& target,
         const json* body, F human) {
  auto raw = api.call_raw(method, target, body);
  if (!raw) return report(raw.error());
  if (g.json) {
    out(*raw);
    if (raw->empty() || raw->back() != '\n') out("\n");
    return 0;
  }
  json j = json::parse(*raw, nullptr, false);
  if (j.is_discarded())
    return report("ljd answered " + method + " " + target + " with something that is not JSON");
  return human(j);
}

template <class F>
int show(Api& api, const Globals& g, const std::string& target, F human) {
  return show(api, g, "GET", target, nullptr, human);
}

// A failed create+start. The command could not be executed: 127 when it does not exist, else
// 126, as sh(1) and ljspawn(8) say; ljd answers jail.exec_failed with details.reason
// "not_found" or "not_executable".
int report_create_failure(Api& api, const Error& e) {
  const ApiError& ae = api.last_api_error();
  if (ae.status != 0 && ae.code == "jail.exec_failed") {
    report(ae.message);
    bool missing = ae.details.is_object() && ae.details.value("reason", "") == "not_found";
    return missing ? kExitNotFound : kExitCannotRun;
  }
  return report(e);
}

int follow_to_end(Api& api, const Globals& g, const std::string& id, bool input, bool tty);

int cmd_run(Api& api, const Globals& g, RunOptions o, bool detach) {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (struct winsize ws {}; o.tty && ::isatty(0) && ::ioctl(0, TIOCGWINSZ, &ws) == 0) {
    o.rows = ws.ws_row;  // the jail's terminal starts at ljctl's size
    o.cols = ws.ws_col;
  }
  auto body = make_create_body(o, cwd, [](const std::string& k) -> std::optional<std::string> {
    const char* v = std::getenv(k.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  });
  if (!body) return report(body.error());
  if (detach) {
    auto raw = api.call_raw("POST", "/v1/jails?start=true", &*body);
    if (!raw) return report_create_failure(api, raw.error());
    json j = json::parse(*raw, nullptr, false);
    outln(g.json || !j.is_object() ? *raw : cell(j.value("id", json())));
    return 0;
  }

  catch_interrupts();
  api.http().set_interrupt_flag(&g_interrupt);
  auto created = api.call("POST", "/v1/jails?start=true", &*body);
  if (!created) {
    if (created.error().sys_errno() == EINTR) return report("interrupted before the jail started");
    return report_create_failure(api, created.error());
  }
  std::string id = created->value("id", "");
  if (id.empty()) return report("ljd created a jail without an id — check ljd's log");
  return follow_to_end(api, g, id, o.interactive, o.tty);
}

// Attached to a started jail's stdio (with a terminal or input), else following its log, until
// its end; its exit status.
int follow_to_end(Api& api, const Globals& g, const std::string& id, bool input, bool tty) {
  if (input || tty) {
    // Attached (docs/attach.md); the exit from the record once the stream ends. A jail that ended
    // before the attach is followed below, from its log, like a jail run without -i.
    bool ended = false, detached = false;
    auto err = attach_stdio(api.socket(), id, tty, &ended, &detached, input);
    if (!err.empty() && !ended) return report(err);
    if (detached) {
      std::fprintf(stderr, "\r\nljctl: detached from jail %s (it runs on; `ljctl attach %s`)\r\n",
                   id.c_str(), id.c_str());
      return 0;
    }
    if (!ended) {
      auto w = api.call("GET", jail_path(id) + "/wait");
      if (!w) return report(w.error());
      return exit_status(w->contains("exit") ? (*w)["exit"] : json());
    }
  }

  LogState st;
  int interrupts = 0;
  for (;;) {
    st.lagged = false;
    auto s =
        api.stream("GET", jail_path(id) + "/logs?follow=true&after=" + std::to_string(st.after),
                   [&](std::string_view line) { return print_log_line(line, g.json, st); });
    if (!s && s.error().sys_errno() == EINTR) {
      // Ctrl-C: stop the jail (SIGTERM, then SIGKILL after ljd's stop timeout), keep following
      // its output to the end; a second Ctrl-C kills it, a third leaves it be.
      g_interrupt = 0;
      ++interrupts;
      Api ctl(api.socket());
      if (interrupts == 1) {
        std::fprintf(stderr, "ljctl: stopping jail %s (Ctrl-C again to kill it)\n", id.c_str());
        json stop = json::object();
        if (auto r = ctl.call("POST", jail_path(id) + "/stop", &stop); !r) report(r.error());
      } else if (interrupts == 2) {
        std::fprintf(stderr, "ljctl: killing jail %s\n", id.c_str());
        json kill = {{"signal", SIGKILL}};
        if (auto r = ctl.call("POST", jail_path(id) + "/kill", &kill); !r) report(r.error());
      } else {
        return report("gave up waiting for jail " + id + "; see `ljctl ps -a`");
      }
      continue;
    }
    if (!s) return report(s.error());
    if (st.end || !st.lagged) break;
  }
  json exit;
  if (st.end) {
    exit = st.end->contains("exit") ? (*st.end)["exit"] : json();
  }
  if (!exit.is_object() && st.end && st.end->contains("reason")) {
    return report("stopped following jail " + id + ": " + cell((*st.end)["reason"]) +
                  " — get its status later with `ljctl wait " + id + "`");
  }
  if (!exit.is_object()) {
    // The stream ended without its end record (an older ljd, or a jail reaped meanwhile): the
    // exit record answers, whatever the order.
    auto w = api.call("GET", jail_path(id) + "/wait");
    if (!w) return report(w.error());
    exit = w->contains("exit") ? (*w)["exit"] : json();
  }
  return finish_with_exit(id, exit, g.json);
}

// `create`: the jail made, not started; its id (docker create).
int cmd_create(Api& api, const Globals& g, RunOptions o) {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (struct winsize ws {}; o.tty && ::isatty(0) && ::ioctl(0, TIOCGWINSZ, &ws) == 0) {
    o.rows = ws.ws_row;
    o.cols = ws.ws_col;
  }
  auto body = make_create_body(o, cwd, [](const std::string& k) -> std::optional<std::string> {
    const char* v = std::getenv(k.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  });
  if (!body) return report(body.error());
  auto raw = api.call_raw("POST", "/v1/jails", &*body);
  if (!raw) return report(raw.error());
  json j = json::parse(*raw, nullptr, false);
  outln(g.json || !j.is_object() ? *raw : cell(j.value("id", json())));
  return 0;
}

// `start -a [-i]`: a created jail started, then followed as `run` follows one (docker start -a).
int cmd_start_attached(Api& api, const Globals& g, const std::string& jail, bool input) {
  auto row = api.call("GET", jail_path(jail));
  if (!row) return report(row.error());
  const std::string id = row->value("id", jail);
  const json spec = row->value("spec", json::object());
  const bool tty = spec.is_object() && spec.value("tty", false);
  if (input && !(spec.is_object() && spec.value("stdin", false)))
    return report("start -i: jail " + id + " was created without -i (its stdin is not open)");
  json none = json::object();
  catch_interrupts();
  auto started = api.call("POST", jail_path(id) + "/start", &none);
  if (!started) return report_create_failure(api, started.error());
  api.http().set_interrupt_flag(&g_interrupt);
  return follow_to_end(api, g, id, input, tty);
}

int cmd_ps(Api& api, const Globals& g, bool all, bool quiet,
           const std::vector<std::string>& labels) {
  std::string q;
  for (const char* s : {"creating", "created", "running", "stopping"})
    q += std::string("&state=") + s;
  if (all) q += "&state=exited";
  for (const auto& l : labels) {
    if (auto kv = parse_kv(l, "--label"); !kv) return report(kv.error());
    q += "&label=" + seg(l);
  }
  q[0] = '?';
  return show(api, g, "/v1/jails" + q, [&](const json& list) {
    if (quiet) {
      for (const auto& j : list) outln(cell(j.value("id", json())));
      return 0;
    }
    Table t({"ID", "NAME", "IMAGE", "COMMAND", "CREATED", "STATUS"});
    auto n = now();
    for (const auto& j : list) {
      json spec = j.contains("spec") && j["spec"].is_object() ? j["spec"] : json::object();
      json cmd = spec.contains("command") ? spec["command"] : spec.value("script", json());
      t.add({cell(j.value("id", json())), cell(j.value("name", json())), jail_image(j),
             display_command(cmd), ago(j.value("created_at", json()), n), jail_status(j, n)});
    }
    out(t.str());
    return 0;
  });
}

int cmd_inspect(Api& api, const Globals& g, const std::vector<std::string>& ids) {
  int rc = 0;
  for (const auto& id : ids) {
    int r = show(api, g, jail_path(id), [](const json& j) {
      outln(j.dump(2));
      return 0;
    });
    if (r != 0) rc = r;
  }
  return rc;
}

int cmd_logs(Api& api, const Globals& g, const std::string& id, bool follow) {
  LogState st;
  for (;;) {
    st.lagged = false;
    auto s = api.stream("GET",
                        jail_path(id) + "/logs?follow=" + (follow ? "true" : "false") +
                            "&after=" + std::to_string(st.after),
                        [&](std::string_view line) { return print_log_line(line, g.json, st); });
    if (!s) return report(s.error());
    if (!st.lagged) return 0;
  }
}

int cmd_wait(Api& api, const Globals& g, const std::string& id, const std::string& timeout) {
  std::string target = jail_path(id) + "/wait";
  if (!timeout.empty()) {
    auto t = parse_duration(timeout);
    if (!t) return report(std::move(t).error().context("--timeout"));
    std::ostringstream s;
    s << *t;
    target += "?timeout_s=" + s.str();
  }
  auto raw = api.call_raw("GET", target);
  if (!raw) return report(raw.error());
  json w = json::parse(*raw, nullptr, false);
  if (g.json) outln(*raw);
  if (!w.is_object())
    return report("ljd answered GET " + target + " with something that is not JSON");
  if (w.value("timed_out", false)) {
    return report("jail " + id + " is still " + w.value("state", "running") + " after " + timeout +
                  " — wait longer, or stop it with `ljctl stop " + id + "`");
  }
  json exit = w.contains("exit") ? w["exit"] : json();
  int status = finish_with_exit(id, exit, g.json);
  if (!g.json) outln(std::to_string(status));
  return status;
}

// One call per item (a jail, an overlay, a world); prints each item acted on (its JSON with
// --json), reports each failure on its own line with the hint for its status, and goes on.
struct Hints {
  std::string on_409;
};
int for_each_call(Api& api, const Globals& g, const std::vector<std::string>& items,
                  const std::string& method,
                  const std::function<Result<std::string>(const std::string&)>& target_of,
                  const json* body, const Hints& hints) {
  int rc = 0;
  for (const auto& item : items) {
    auto target = target_of(item);
    if (!target) {
      rc = report(target.error());
      continue;
    }
    auto raw = api.call_raw(method, *target, body);
    if (!raw) {
      std::string line = raw.error().what();
      int status = api.last_api_error().status;
      if (status == 409 && !hints.on_409.empty()) line += " — " + hints.on_409;
      rc = report(line);
      continue;
    }
    outln(g.json ? *raw : item);
  }
  return rc;
}

Result<std::string> jail_target(const std::string& id, const std::string& suffix) {
  return jail_path(id) + suffix;
}

// ---- builds ----------------------------------------------------------------------------------

std::string elapsed(std::chrono::steady_clock::time_point t0) {
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "[%6.1fs] ", s);
  return buf;
}

int cmd_build(Api& api, const Globals& g, const std::string& dir, const std::string& jailfile,
              bool force) {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  // The API takes a context directory (holding its Jailfile) or a Jailfile's text, not both:
  // a Jailfile named by -f that is not DIR/Jailfile is sent as text, without a context.
  json body = json::object();
  auto absolute = [&cwd](fs::path p) {
    std::string a = (p.is_relative() ? cwd / p : p).lexically_normal().string();
    if (a.size() > 1 && a.back() == '/') a.pop_back();
    return a;
  };
  fs::path ctx = absolute(dir.empty() ? fs::path(".") : fs::path(dir));
  if (!jailfile.empty() && fs::path(absolute(jailfile)) != ctx / "Jailfile") {
    if (fs::path(jailfile).filename() == "Jailfile" && dir.empty()) {
      body["context"] = absolute(fs::path(absolute(jailfile)).parent_path());
    } else {
      std::ifstream in(jailfile);
      if (!in) return report("cannot read " + jailfile + ": " + std::strerror(errno));
      std::stringstream ss;
      ss << in.rdbuf();
      body["jailfile"] = ss.str();
    }
  } else {
    if (!fs::exists(ctx / "Jailfile", ec)) {
      return report("no Jailfile in " + ctx.string() +
                    " — give the directory that has one, or -f FILE");
    }
    body["context"] = ctx.string();
  }
  if (force) body["force"] = true;
  auto t0 = std::chrono::steady_clock::now();
  auto build = api.call("POST", "/v1/builds", &body);
  if (!build) return report(build.error());
  std::string id = build->value("id", "");
  if (id.empty()) return report("ljd started a build without an id — check ljd's log");
  LogState st;
  for (;;) {
    st.lagged = false;
    auto s = api.stream(
        "GET", "/v1/builds/" + seg(id) + "/logs?follow=true&after=" + std::to_string(st.after),
        [&](std::string_view line) {
          return print_log_line(line, g.json, st, g.json ? "" : elapsed(t0));
        });
    if (!s) return report(s.error());
    if (!st.lagged) break;
  }
  auto w = api.call("GET", "/v1/builds/" + seg(id) + "/wait");
  if (!w) return report(w.error());
  json b = w->contains("build") && (*w)["build"].is_object() ? (*w)["build"] : *w;
  if (g.json) outln(b.dump());
  std::string state = b.value("state", "");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char took[32];
  std::snprintf(took, sizeof took, "%.1fs", secs);
  if (state == "succeeded") {
    if (!g.json) {
      json ov = b.value("overlay", json::object());
      std::string what =
          ov.is_object() ? cell(ov.value("name", json())) + "@" + cell(ov.value("version", json()))
                         : "?";
      std::fprintf(stdout, "%s%s %s\n", elapsed(t0).c_str(),
                   b.value("cache_hit", false) ? "cached" : "published", what.c_str());
    }
    return 0;
  }
  std::string why;
  json err = b.value("error", json());
  if (err.is_object())
    why = err.value("message", err.dump());
  else if (err.is_string())
    why = err.get<std::string>();
  else
    why = "state " + state;
  std::fflush(stdout);
  std::fprintf(stderr, "ljctl: build %s failed after %s: %s\n", id.c_str(), took, why.c_str());
  return kExitFailed;
}

// ---- overlays, worlds, events, info -------------------------------------------------------------

int cmd_overlays(Api& api, const Globals& g) {
  return show(api, g, "/v1/overlays", [](const json& list) {
    Table t({"NAME", "VERSION", "WORLD", "PARENT", "SIZE", "CREATED"});
    auto n = now();
    for (const auto& o : list) {
      std::string parent = "-";
      if (o.contains("parent") && o["parent"].is_object()) {
        parent = o["parent"].value("name", "?") + "@" + o["parent"].value("version", "?");
      }
      t.add({cell(o.value("name", json())), cell(o.value("version", json())),
             cell(o.value("world", json())), parent, size_cell(o),
             ago(o.value("created_at", json()), n)});
    }
    out(t.str());
    return 0;
  });
}

int cmd_overlay_rm(Api& api, const Globals& g, const std::vector<std::string>& refs) {
  auto target = [](const std::string& ref) -> Result<std::string> {
    auto at = ref.rfind('@');
    if (at == std::string::npos || at == 0 || at + 1 == ref.size()) {
      return fail(Errc::invalid_argument, "ljctl",
                  "overlay rm " + ref + ": expected NAMESPACE/NAME@VERSION (see `ljctl overlays`)");
    }
    return "/v1/overlays/" + ref.substr(0, at) + "/" + seg(ref.substr(at + 1));
  };
  return for_each_call(api, g, refs, "DELETE", target, nullptr,
                       {"remove the jails and child overlays that use it first"});
}

int cmd_worlds(Api& api, const Globals& g) {
  return show(api, g, "/v1/worlds", [](const json& list) {
    Table t({"NAME", "STATE", "SIZE", "SOURCE", "CREATED"});
    auto n = now();
    for (const auto& w : list) {
      t.add({cell(w.value("name", json())), cell(w.value("state", json())), size_cell(w),
             cell(w.value("source", json())), ago(w.value("created_at", json()), n)});
    }
    out(t.str());
    return 0;
  });
}

int cmd_world_import(Api& api, const Globals& g, const std::string& name,
                     const std::string& source) {
  std::error_code ec;
  fs::path src(source);
  if (src.is_relative()) src = (fs::current_path(ec) / src).lexically_normal();
  json body = {{"name", name}, {"source", src.string()}};
  auto w = api.call("POST", "/v1/worlds", &body);
  if (!w) return report(w.error());
  json world = *w;
  if (world.value("state", "") == "importing") {
    auto done = api.call("GET", "/v1/worlds/" + seg(name) + "/wait");
    if (!done) return report(done.error());
    world = done->contains("world") && (*done)["world"].is_object() ? (*done)["world"] : *done;
  }
  if (g.json) outln(world.dump());
  std::string state = world.value("state", "");
  if (state != "ready" && !state.empty()) {
    json err = world.value("error", json());
    std::string why = err.is_object() ? err.value("message", err.dump()) : cell(err);
    std::fflush(stdout);
    std::fprintf(stderr, "ljctl: importing world %s failed: %s\n", name.c_str(), why.c_str());
    return kExitFailed;
  }
  if (!g.json) outln(name);
  return 0;
}

int cmd_world_rm(Api& api, const Globals& g, const std::vector<std::string>& names) {
  auto target = [](const std::string& name) -> Result<std::string> {
    return "/v1/worlds/" + seg(name);
  };
  return for_each_call(api, g, names, "DELETE", target, nullptr,
                       {"remove the jails and overlays on it first"});
}

// Without --since: the whole retained log, or with -f only what happens from now on (as `docker
// events`; the API's default for follow). --since 0 -f replays the log, then follows.
int cmd_events(Api& api, const Globals& g, std::optional<std::uint64_t> since, bool follow) {
  std::string target = "/v1/events";
  std::string sep = "?";
  if (since) {
    target += "?since=" + std::to_string(*since);
    sep = "&";
  }
  if (follow) target += sep + "follow=true";
  auto s = api.stream("GET", target, [&](std::string_view line) {
    if (g.json) {
      json j = json::parse(line, nullptr, false);
      if (j.is_object() && j.value("type", "") == "heartbeat") return true;
      outln(line);
      std::fflush(stdout);
      return true;
    }
    json e = json::parse(line, nullptr, false);
    if (!e.is_object()) return true;
    std::string type = e.value("type", "");
    if (type == "heartbeat") return true;
    if (type == "lagged" || type == "pruned" || type == "error") {
      std::fflush(stdout);
      std::fprintf(stderr, "ljctl: events: %s\n", e.dump().c_str());
      return true;
    }
    std::string data = e.contains("data") && !e["data"].empty() ? " " + e["data"].dump() : "";
    std::string uid = e.contains("uid") && !e["uid"].is_null() ? " uid=" + e["uid"].dump() : "";
    std::fprintf(stdout, "%s %s %s %s%s%s\n", cell(e.value("seq", json())).c_str(),
                 cell(e.value("time", json())).c_str(), type.c_str(),
                 cell(e.value("resource", json())).c_str(), uid.c_str(), data.c_str());
    std::fflush(stdout);
    return true;
  });
  if (!s) return report(s.error());
  return 0;
}

int cmd_info(Api& api, const Globals& g) {
  return show(api, g, "/v1/info", [](const json& info) {
    Table t({"KEY", "VALUE"});
    std::string text;
    std::size_t w = 0;
    for (const auto& [k, v] : info.items()) w = std::max(w, k.size());
    for (const auto& [k, v] : info.items()) {
      std::string val;
      if (v.is_array()) {
        for (const auto& x : v) val += (val.empty() ? "" : ", ") + cell(x);
        if (val.empty()) val = "-";
      } else {
        val = cell(v);
      }
      text += k + ":" + std::string(w - k.size() + 1, ' ') + val + "\n";
    }
    out(text);
    return 0;
  });
}

}  // namespace

static int main_unguarded(int argc, char** argv) {
  std::vector<std::string> ids_for_start;
  CLI::App app{"ljctl: the command-line client of ljd, the ephemeral jail daemon", "ljctl"};
  app.require_subcommand(1);
  app.set_version_flag("-V,--version", "ljctl " LJD_VERSION);
  Globals g;
  const char* env_socket = std::getenv("LJD_SOCKET");
  g.socket = env_socket && *env_socket ? env_socket : std::string(kDefaultSocket);
  auto add_globals = [&g](CLI::App* a) {
    a->add_option("--socket", g.socket, "ljd's socket (env LJD_SOCKET, default /var/run/ljd.sock)");
    a->add_flag("--json", g.json, "print the API's JSON as is");
  };
  add_globals(&app);
  auto sub = [&](const char* name, const char* help) {
    CLI::App* s = app.add_subcommand(name, help);
    add_globals(s);
    return s;
  };

  // run, create: the same options (create makes the jail without starting it).
  RunOptions ro;
  RunNetOptions rno;
  bool detach = false;
  auto add_run_options = [&](CLI::App* a) {
    a->prefix_command();  // everything after WORLD|OVERLAY is the command
    a->add_option("--name", ro.name, "the jail's name");
    a->add_flag("--image", ro.image, "the target is an OCI image reference (see ljctl(1))");
    a->add_option("--world", ro.world, "the world under an overlay (default: the overlay's)");
    a->add_option("-e,--env", ro.env, "KEY=VALUE, or KEY to pass ljctl's own $KEY")
        ->allow_extra_args(false);
    a->add_option("--env-file", ro.env_files,
                  "a file of KEY=VALUE lines (docker's format; repeatable, before -e)")
        ->allow_extra_args(false);
    a->add_option("-w,--workdir", ro.workdir, "the command's working directory in the jail");
    a->add_option("-H,--hostname", ro.hostname, "the jail's host name (default: its name)");
    a->add_option("--net", ro.net, "network: none (loopback only, default), inherit, ip");
    a->add_option("--interface", ro.interface, "host interface for --net ip");
    a->add_option("--address", ro.addresses, "ADDR/PREFIX for --net ip (repeatable)")
        ->allow_extra_args(false);
    a->add_option("-v,--volume", ro.volumes, "HOST:JAIL[:ro] bind mount (repeatable)")
        ->allow_extra_args(false);
    a->add_option("--memory", ro.memory, "memory limit: 512M, 1G");
    a->add_option("--pids", ro.pids, "process limit");
    a->add_option("--cpu", ro.cpu, "CPU limit: CPUs (0.5, 2) or percent of one (150%)");
    a->add_option("--nofile", ro.nofile, "open file limit");
    a->add_option("--timeout", ro.timeout,
                  "wall-clock limit: 30s, 5m, 1h (then the jail is killed)");
    a->add_option("-l,--label", ro.labels, "k=v label (repeatable)")->allow_extra_args(false);
    a->add_flag("--keep", ro.keep, "keep the jail's record after it exits (see ljctl(1))");
    a->add_flag("--rm", ro.rm, "remove the jail's record when it exits (see ljctl(1))");
    a->add_flag("-i,--interactive", ro.interactive, "keep stdin open and feed it from ljctl's");
    a->add_flag("-t,--tty", ro.tty, "run the command on a terminal");
    a->add_option("-u,--user", ro.user, "name|uid[:group|gid], from the jail's /etc/passwd");
    a->add_option("--privilege", ro.privileges,
                  "a privilege beyond the defaults (device=/dev/X, raw_sockets, mlock, sysvipc, "
                  "port=N[/proto]); the host policy decides");
    a->add_flag("--policy-override", ro.policy_override,
                "grant what the host policy refuses (root only; recorded on the jail)");
    add_run_net_options(a, rno);
  };
  CLI::App* run = sub("run", "create and start a jail, stream its output, exit with its status");
  add_run_options(run);
  run->add_flag("-d,--detach", detach, "print the jail's id and return at once");
  CLI::App* create = sub("create", "create a jail without starting it; print its id");
  add_run_options(create);

  bool attach_start = false;
  CLI::App* start = sub("start", "start created jails (-a: attached, exit with its status)");
  start->add_flag("-a,--attach", attach_start, "attach to its output (and input with -i)");
  start->add_flag("-i,--interactive", ro.interactive, "with -a: feed ljctl's stdin to the jail");
  start->add_option("ID", ids_for_start, "jail ids or names")->required();

  bool all = false, quiet = false;
  std::vector<std::string> ps_labels;
  CLI::App* ps = sub("ps", "list jails (running ones; -a: exited ones too)");
  ps->add_flag("-a,--all", all, "include exited jails");
  ps->add_flag("-q,--quiet", quiet, "print ids only");
  ps->add_option("-l,--label", ps_labels, "only jails with label k=v (repeatable)")
      ->allow_extra_args(false);

  std::vector<std::string> ids;
  std::string id;
  CLI::App* inspect = sub("inspect", "show a jail as JSON");
  inspect->add_option("ID", ids, "jail id or name")->required();

  bool follow = false;
  CLI::App* logs = sub("logs", "print a jail's output");
  logs->add_flag("-f,--follow", follow, "follow the output until the jail ends");
  logs->add_option("ID", id, "jail id or name")->required();

  std::string wait_timeout;
  CLI::App* wait = sub("wait", "wait for a jail to end; print its status and exit with it");
  wait->add_option("ID", id, "jail id or name")->required();
  wait->add_option("-t,--timeout", wait_timeout, "give up after this long (30s, 5m)");

  std::string stop_timeout, signal_text;
  CLI::App* stop = sub("stop", "stop jails: SIGTERM, then SIGKILL after the timeout");
  stop->add_option("-t,--time", stop_timeout, "seconds to wait before SIGKILL (default: ljd's)");
  stop->add_option("-s,--signal", signal_text,
                   "the first signal (default: the jail's stop signal, else TERM)");
  stop->add_option("ID", ids, "jail ids or names")->required();

  CLI::App* kill = sub("kill", "send a signal to jails");
  kill->add_option("-s,--signal", signal_text, "signal name or number (default KILL)");
  kill->add_option("ID", ids, "jail ids or names")->required();

  bool force = false;
  CLI::App* rm = sub("rm", "remove jails' records (-f: stop running ones first)");
  rm->add_flag("-f,--force", force, "stop a running jail first");
  rm->add_option("ID", ids, "jail ids or names")->required();

  std::string build_dir, jailfile;
  CLI::App* build = sub("build", "build a Jailfile into an overlay, streaming its output");
  build->add_option("DIR", build_dir, "the build context, with its Jailfile (default .)");
  build->add_option("-f,--file", jailfile, "the Jailfile (default DIR/Jailfile)");
  build->add_flag("--force", force, "build even when an identical build is cached");

  sub("overlays", "list overlays");
  CLI::App* overlay = sub("overlay", "manage overlays");
  overlay->require_subcommand(1);
  CLI::App* overlay_rm = overlay->add_subcommand("rm", "remove overlays NAMESPACE/NAME@VERSION");
  add_globals(overlay_rm);
  overlay_rm->add_option("NAME@VERSION", ids, "overlays to remove")->required();

  sub("worlds", "list worlds");
  std::string world_name, world_source;
  CLI::App* world = sub("world", "manage worlds");
  world->require_subcommand(1);
  CLI::App* world_import =
      world->add_subcommand("import", "import a world from a directory or tarball");
  add_globals(world_import);
  world_import->add_option("NAME", world_name, "the world's name (FreeBSD: its uname -r)")
      ->required();
  world_import->add_option("SOURCE", world_source, "a directory or a tarball on ljd's host")
      ->required();
  CLI::App* world_rm = world->add_subcommand("rm", "remove worlds");
  add_globals(world_rm);
  world_rm->add_option("NAME", ids, "worlds to remove")->required();

  std::uint64_t since = 0;
  CLI::App* events = sub("events", "print ljd's event log (-f: follow it from now on)");
  CLI::Option* since_opt =
      events->add_option("--since", since, "start after this event seq (0: the whole log)");
  events->add_flag("-f,--follow", follow, "keep printing new events");

  sub("info", "show ljd's version, backend and state");
  NetworkCommands network_commands;
  network_commands.add(app, add_globals);
  ExecCommands exec_commands;  // exec, attach
  exec_commands.add(app, add_globals);
  auto image_cmds = add_image_commands(sub);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    for (int i = 1; i < argc; ++i) {  // the first word that is not an option names the command
      std::string_view a = argv[i];
      if (a == "--socket") {
        ++i;
        continue;
      }
      if (a.empty() || a[0] == '-') continue;
      auto subs = app.get_subcommands([&a](CLI::App* s) { return s->get_name() == a; });
      if (subs.empty()) {
        return report("unknown command `" + std::string(a) + "` (see `ljctl --help`)");
      }
      break;
    }
    std::string cmd = "ljctl";
    for (CLI::App* s : app.get_subcommands()) cmd += " " + s->get_name();
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
      // An option no command has: say which (the command's `remaining` holds the extras).
      CLI::App* s = &app;
      for (auto subs = s->get_subcommands(); !subs.empty(); subs = s->get_subcommands())
        s = subs.front();
      for (const std::string& x : s->remaining(true))
        if (x.size() > 1 && x[0] == '-' && x != "--")
          return report("unknown flag " + x.substr(0, x.find('=')) + " (see `" + cmd + " --help`)");
    }
    return report(std::string(e.what()) + " (see `" + cmd + " --help`)");
  }

  Api api(g.socket);
  if (int st = run_image_command(*image_cmds, api, g.json); st >= 0) return st;
  if (run->parsed() || create->parsed()) {
    CLI::App* a = run->parsed() ? run : create;
    const std::string name = a->get_name();
    std::vector<std::string> rest = a->remaining();
    // An option CLI11 does not know ends the options of a prefix command: it is not a target.
    if (!rest.empty() && rest.front() != "--" && rest.front().size() > 1 && rest.front()[0] == '-')
      return report("unknown flag " + rest.front() + " (see `ljctl " + name + " --help`)");
    if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
    if (rest.empty())
      return report(name + ": give the world or overlay to run (see `ljctl " + name + " --help`)");
    ro.target = rest.front();
    rest.erase(rest.begin());
    if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
    ro.command = std::move(rest);
    ro.networking = &rno;
    if (ro.keep && ro.rm) return report("--keep and --rm contradict each other");
    // docker's habit: a jail that runs detached or is created for later keeps its record after
    // its exit (ps -a, logs, rm), unless --rm; one followed to its end by ljctl does not.
    ro.keep_by_default = detach || create->parsed();
    for (auto it = ro.env_files.rbegin(); it != ro.env_files.rend(); ++it) {
      auto lines = read_env_file(*it);
      if (!lines) return report(std::move(lines).error());
      ro.env.insert(ro.env.begin(), lines->begin(), lines->end());
    }
    if (create->parsed()) return cmd_create(api, g, std::move(ro));
    return cmd_run(api, g, std::move(ro), detach);
  }
  if (start->parsed()) {
    if (!attach_start) {
      if (ro.interactive) return report("start: -i goes with -a");
      return for_each_call(api, g, ids_for_start, "POST",
                           [&](const std::string& i) { return jail_target(i, "/start"); },
                           nullptr, {"it is not in state created"});
    }
    if (ids_for_start.size() != 1) return report("start -a: give one jail");
    return cmd_start_attached(api, g, ids_for_start.front(), ro.interactive);
  }
  if (ps->parsed()) return cmd_ps(api, g, all, quiet, ps_labels);
  if (inspect->parsed()) return cmd_inspect(api, g, ids);
  if (logs->parsed()) return cmd_logs(api, g, id, follow);
  if (wait->parsed()) return cmd_wait(api, g, id, wait_timeout);
  if (stop->parsed() || kill->parsed()) {
    json body = json::object();
    if (!signal_text.empty()) {
      auto s = parse_signal(signal_text);
      if (!s) return report(s.error());
      body["signal"] = *s;
    } else if (kill->parsed()) {
      body["signal"] = SIGKILL;
    }
    if (stop->parsed() && !stop_timeout.empty()) {
      auto t = parse_duration(stop_timeout);
      if (!t) return report(std::move(t).error().context("--time"));
      body["timeout_s"] = *t;
    }
    std::string verb = stop->parsed() ? "/stop" : "/kill";
    return for_each_call(api, g, ids, "POST",
                         [&](const std::string& i) { return jail_target(i, verb); }, &body,
                         {"it is not running"});
  }
  if (rm->parsed()) {
    std::string q = force ? "?force=true" : "";
    return for_each_call(api, g, ids, "DELETE",
                         [&](const std::string& i) { return jail_target(i, q); }, nullptr,
                         {"it is still running: stop it first or use `ljctl rm -f`"});
  }
  if (build->parsed()) return cmd_build(api, g, build_dir, jailfile, force);
  if (app.got_subcommand("overlays")) return cmd_overlays(api, g);
  if (overlay_rm->parsed()) return cmd_overlay_rm(api, g, ids);
  if (app.got_subcommand("worlds")) return cmd_worlds(api, g);
  if (world_import->parsed()) return cmd_world_import(api, g, world_name, world_source);
  if (world_rm->parsed()) return cmd_world_rm(api, g, ids);
  if (events->parsed()) {
    return cmd_events(api, g, since_opt->count() ? std::optional(since) : std::nullopt, follow);
  }
  if (app.got_subcommand("info")) return cmd_info(api, g);
  if (auto rc = network_commands.run(api, g.json)) return *rc;
  if (auto rc = exec_commands.run(api, g.json)) return *rc;
  return report("no command (see `ljctl --help`)");
}

int main(int argc, char** argv) {
  // Answers ljctl reads are checked field by field; this is the net under a daemon whose JSON
  // does not have the shape this ljctl knows (an older or newer ljd): one line, never a trace.
  try {
    return main_unguarded(argc, argv);
  } catch (const nlohmann::json::exception& e) {
    return report(std::string("ljd answered with JSON this ljctl does not understand (") +
                  e.what() + ") — are ljd and ljctl the same version? (`ljctl info`)");
  } catch (const std::exception& e) {
    return report(std::string("internal error: ") + e.what());
  }
}

}  // namespace lj::ljctl
