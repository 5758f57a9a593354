#include "daemon/execs.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <filesystem>

#include "common/log.hpp"
#include "daemon/jail_request.hpp"
#include "daemon/jails.hpp"
#include "daemon/json_fields.hpp"
#include "daemon/wire.hpp"
#include "jail/status_file.hpp"
#include "jail/terminal.hpp"

namespace lj::daemon {

using nlohmann::json;
using index::ExecRow;
using index::ExecState;

namespace {

Error exec_not_found(std::string_view id) {
  return Error(Errc::not_found, "exec", "exec " + std::string(id) + " not found");
}

json exec_exit_json(const ExecRow& r) {
  if (!r.exited_at) return json();
  return {{"code", r.exit_code ? json(*r.exit_code) : json()},
          {"signal", r.exit_signal ? json(*r.exit_signal) : json()},
          {"lost", r.lost},
          {"exited_at", iso_time(*r.exited_at)}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

index::ExitRecord exit_record(const jail::ExitStatus& s) {
  index::ExitRecord e;
  if (s.lost) {
    e.lost = true;
  } else if (s.signal != 0) {
    e.exit_signal = s.signal;
  } else {
    e.exit_code = s.code;
  }
  return e;
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

Result<ExecRequest> decode_exec(const json& body, std::string* field) {
  ExecRequest r;
  Fields f(body);
  r.cmd = f.opt_strings("cmd").value_or(std::vector<std::string>{});
  r.env = f.opt_string_map("env").value_or(std::map<std::string, std::string>{});
  r.user = f.opt_string("user").value_or("");
  r.workdir = f.opt_string("workdir").value_or("/");
  r.tty = f.opt_bool("tty").value_or(false);
  r.stdin_open = f.opt_bool("stdin").value_or(false);
  Fields size = f.object("tty_size");
  if (size.present()) {
    auto rows = size.opt_uint("rows"), cols = size.opt_uint("cols");
    if (!rows || *rows == 0 || *rows > 65535) size.reject("rows", "1..65535");
    if (!cols || *cols == 0 || *cols > 65535) size.reject("cols", "1..65535");
    r.tty_rows = static_cast<unsigned short>(rows.value_or(0));
    r.tty_cols = static_cast<unsigned short>(cols.value_or(0));
  }
  if (!f.error()) {
    if (r.cmd.empty() || r.cmd[0].empty()) {
      f.reject("cmd", "required: the command and its arguments, argv[0] not empty");
    } else if (r.workdir.empty() || r.workdir[0] != '/' || has_nul(r.workdir)) {
      f.reject("workdir", "must be an absolute path");
    } else if (!r.user.empty() && !valid_user(r.user)) {
      f.reject("user", "must be name|uid[:group|gid]");
    } else if (size.present() && !r.tty) {
      f.reject("tty_size", "only with tty");
    }
    for (const auto& a : r.cmd)
      if (has_nul(a)) f.reject("cmd", "must not contain NUL");
    for (const auto& [k, v] : r.env) {
      if (k.empty() || k.find('=') != std::string::npos || has_nul(k))
        f.reject("env", "bad variable name `" + k + "`");
      else if (has_nul(v))
        f.reject("env." + k, "must not contain NUL");
    }
  }
  auto st = f.finish();
  if (!st) {
    if (field && f.error()) *field = f.error()->field;
    return tl::unexpected(std::move(st).error());
  }
  return r;
}

json encode_exec(const ExecRequest& r) {
  json j = {{"cmd", r.cmd}, {"workdir", r.workdir}};
  if (!r.env.empty()) j["env"] = r.env;
  if (!r.user.empty()) j["user"] = r.user;
  if (r.tty) j["tty"] = true;
  if (r.stdin_open) j["stdin"] = true;
  if (r.tty_rows != 0) j["tty_size"] = {{"rows", r.tty_rows}, {"cols", r.tty_cols}};
  return j;
}

json exec_json(const ExecRow& r) {
  json spec = json::parse(r.spec, nullptr, false);
  return {{"id", r.id},
          {"jail_id", r.jail_id},
          {"spec", spec.is_discarded() ? json() : spec},
          {"state", index::to_string(r.state)},
          {"pid", r.pid != 0 ? json(r.pid) : json()},
          {"created_at", iso_time(r.created_at)},
          {"started_at", r.started_at ? json(iso_time(*r.started_at)) : json()},
          {"exit", exec_exit_json(r)}};
}

// A live exec: started (or being started: `exec` still null), or adopted at recovery.
struct Execs::Live {
  std::string id;
  std::unique_ptr<jail::Exec> exec;
  std::unique_ptr<Watch> exit_watch;
  std::vector<std::unique_ptr<ReadWatch>> output;  // read_until_eof of stdout/stderr or the master
  int open_streams = 0;
  // The attached client (attach.hpp): the output as bytes, pacing the readers; null: discarded.
  std::unique_ptr<Attachments> attached;
  UniqueFd master;                  // the terminal's (resize)
  bool exit_recorded = false;
  std::optional<ExecRow> ended;  // the row as recorded at the exit
};

Execs::Execs(Daemon& d) : d_(d) {}
Execs::~Execs() = default;

// Beside the jails' status files but not among them: the jails' recovery releases every
// .ljd/run/*.status no jail row names.
std::string Execs::status_path(const std::string& id) const {
  return (d_.cfg.root / ".ljd" / "run" / "exec" / (id + ".status")).string();
}

Result<ExecRow> Execs::create(std::string_view jail_id_or_name, ExecRequest req,
                              std::optional<std::uint32_t> uid) {
  auto jail = LJ_TRY(d_.jails->get(jail_id_or_name));
  if (jail.state != index::JailState::running)
    return fail(Errc::conflict, "jail",
                "jail " + jail.id + " is " + std::string(index::to_string(jail.state)) +
                    ", not running");
  if (!d_.backend) return fail(Errc::unsupported, "exec", "this build has no jail backend");
  ExecRow row;
  row.jail_id = jail.id;
  row.spec = dump(encode_exec(req));
  row.owner_uid = uid.value_or(0);
  auto r = d_.idx.insert_exec(std::move(row));
  if (!r && r.error().errc() == Errc::conflict)  // the jail ended in between
    return fail(Errc::conflict, "jail", "jail " + jail.id + " is not running");
  return r;
}

Result<ExecRow> Execs::get(std::string_view id) {
  auto r = d_.idx.get_exec(id);
  if (!r && r.error().errc() == Errc::not_found) return fail(exec_not_found(id));
  return r;
}

Result<std::vector<ExecRow>> Execs::list(std::string_view jail_id_or_name) {
  auto jail = LJ_TRY(d_.jails->get(jail_id_or_name));
  return d_.idx.list_execs(jail.id);
}

Status Execs::startable(std::string_view id) {
  auto row = LJ_TRY(get(id));
  // Its streams are attached once, at its start (docs/attach.md): a second start, also of an exec
  // re-adopted after a restart of ljd, is refused and says so.
  if (row.state == ExecState::exited)
    return fail(Errc::conflict, "exec", "exec " + row.id + " has exited");
  if (row.state != ExecState::created || live_.count(row.id))
    return fail(Errc::conflict, "exec",
                "exec " + row.id +
                    " was started already (an exec is attached once, at its start; see "
                    "GET /v1/exec/" + row.id + "/wait)");
  auto jail = LJ_TRY(d_.jails->get(row.jail_id));
  if (jail.state != index::JailState::running)
    return fail(Errc::conflict, "jail",
                "jail " + jail.id + " is " + std::string(index::to_string(jail.state)) +
                    ", not running");
  return {};
}

void Execs::start(std::string_view id_sv, std::shared_ptr<OutputSink> sink,
                  std::optional<std::uint32_t> uid, std::function<void(Result<Started>)> done) {
  if (auto st = startable(id_sv); !st) return done(fail(st.error()));
  auto row = get(id_sv);
  auto jail = row ? d_.jails->get(row->jail_id) : Result<index::JailRow>(fail(row.error()));
  if (!jail) return done(fail(jail.error()));
  std::string field;
  auto req = decode_exec(json::parse(row->spec, nullptr, false), &field);
  if (!req) return done(fail(req.error()));
  // The jail's own RLIMIT_NOFILE, from the spec it was started with; the rest of its command's
  // privileges are the engine's defaults, which ExecSpec's defaults are.
  std::uint64_t nofile = 0;
  if (auto c = decode_create(json::parse(jail->spec, nullptr, false), d_.cfg, &field))
    nofile = c->limits.nofile;

  // What the blocking pool works on: the spec and the descriptors behind it.
  struct Job {
    jail::ExecSpec spec;
    jail::JailHandle handle;
    UniqueFd in_r, in_w, out_r, out_w, err_r, err_w, sock_ours, sock_theirs, master;
    Result<std::unique_ptr<jail::Exec>> result = fail(Errc::internal, "exec", "not run");
  };
  auto job = std::make_shared<Job>();
  const std::string id = row->id;
  job->handle.name = jail->name;
  job->handle.pid = static_cast<pid_t>(jail->pid);
  job->handle.start_time = jail->start_time;
  job->handle.cgroup = jail->cgroup;
  jail::ExecSpec& s = job->spec;
  s.argv = req->cmd;
  for (const auto& [k, v] : req->env) s.env.push_back(k + "=" + v);
  s.workdir = req->workdir;
  s.user = req->user;
  s.nofile = nofile;
  s.status_file = status_path(id);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(s.status_file).parent_path(), ec);
  if (ec) return done(fail(Errc::system, "exec", "mkdir for " + s.status_file + ": " + ec.message()));
  auto pipe = [](UniqueFd& r, UniqueFd& wr) -> Status {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return fail_errno("exec", "pipe2");
    r.reset(p[0]);
    wr.reset(p[1]);
    return {};
  };
  Status made;
  if (req->tty) {
    int sp[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
      made = fail_errno("exec", "socketpair");
    } else {
      job->sock_ours.reset(sp[0]);
      job->sock_theirs.reset(sp[1]);
      s.tty = jail::Terminal{job->sock_theirs.get(), req->tty_rows, req->tty_cols};
    }
  } else {
    made = pipe(job->out_r, job->out_w);
    if (made) made = pipe(job->err_r, job->err_w);
    if (made && req->stdin_open) made = pipe(job->in_r, job->in_w);
    s.stdio.in = job->in_r.get();
    s.stdio.out = job->out_w.get();
    s.stdio.err = job->err_w.get();
  }
  if (!made) return done(fail(made.error()));

  auto live = std::make_unique<Live>();
  live->id = id;
  if (sink) {
    live->attached = std::make_unique<Attachments>(d_.loop, [this, id](bool pause) {
      auto lit = live_.find(id);
      if (lit == live_.end()) return;
      for (auto& r : lit->second->output) {
        if (r && pause) r->pause();
        if (r && !pause) r->resume();
      }
    });
    live->attached->add(std::move(sink));
  }
  live_[id] = std::move(live);  // refuses a second start meanwhile
  const bool tty = req->tty, stdin_open = req->stdin_open;
  d_.loop.blocking([this, job, id, tty, stdin_open, uid, done = std::move(done)]() mutable {
    job->result = d_.backend->exec(job->handle, job->spec);
    job->in_r.reset();
    job->out_w.reset();
    job->err_w.reset();
    job->sock_theirs.reset();
    if (job->result && tty) {
      auto m = jail::receive_terminal(job->sock_ours.get());
      if (m)
        job->master = std::move(*m);
      else
        job->result = fail(m.error());
    }
    d_.loop.post([this, job, id, tty, stdin_open, uid, done = std::move(done)] {
      auto it = live_.find(id);
      if (!job->result) {
        if (it != live_.end()) live_.erase(it);
        Error e = job->result.error();
        if (e.errc() == Errc::not_found)  // the jail ended meanwhile
          return done(fail(Errc::conflict, "jail", "the jail of exec " + id + " is not running"));
        return done(fail(std::move(e)));
      }
      Live& l = *it->second;
      l.exec = std::move(*job->result);
      index::ProcessHandle h;
      h.pid = l.exec->handle().pid;
      h.start_time = l.exec->handle().start_time;
      if (auto st = d_.emit(d_.idx.transition(id, ExecState::running, h, uid)); !st)
        lj::log("ljd")->error("exec={} recording its start: {}", id, st.error().what());
      Started started;
      started.tty = tty;
      started.row = get(id).value_or(ExecRow{});
      auto reader = [this, id](int stream) {
        return [this, id, stream](std::string_view data) {
          auto it2 = live_.find(id);
          if (it2 == live_.end() || !it2->second->attached) return;
          it2->second->attached->output(stream, data);
        };
      };
      auto eof = [this, id] {
        auto it2 = live_.find(id);
        if (it2 == live_.end()) return;
        --it2->second->open_streams;
        maybe_finish(id);
      };
      if (tty) {
        l.master = std::move(job->master);
        if (stdin_open) started.input.reset(::fcntl(l.master.get(), F_DUPFD_CLOEXEC, 0));
        l.open_streams = 1;
        l.output.push_back(d_.loop.read_until_eof(
            UniqueFd(::fcntl(l.master.get(), F_DUPFD_CLOEXEC, 0)), reader(0), eof));
      } else {
        started.input = std::move(job->in_w);
        l.open_streams = 2;
        l.output.push_back(d_.loop.read_until_eof(std::move(job->out_r), reader(0), eof));
        l.output.push_back(d_.loop.read_until_eof(std::move(job->err_r), reader(1), eof));
      }
      l.exit_watch = d_.loop.when_readable(l.exec->wait_fd(), [this, id] { on_exit_ready(id); });
      done(std::move(started));
    });
  });
}

void Execs::on_exit_ready(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live& l = *it->second;
  auto st = l.exec->poll();
  if (!st || !*st) {
    // Not yet (a spurious wake) or unreadable: look again shortly.
    l.exit_watch = d_.loop.after(std::chrono::milliseconds(50), [this, id] { on_exit_ready(id); });
    return;
  }
  auto ev = d_.idx.transition(id, ExecState::exited, exit_record(**st));
  if (auto e = d_.emit(std::move(ev)); !e) {
    lj::log("ljd")->error("exec={} recording its exit: {} (kept in {})", id, e.error().what(),
                          status_path(id));
  } else {
    ::unlink(status_path(id).c_str());
  }
  l.exit_recorded = true;
  l.ended = get(id).value_or(ExecRow{});
  answer_waiters(*l.ended);
  maybe_finish(id);
}

// Once the exit is recorded and the output has reached EOF: the writer's end record, then gone.
void Execs::maybe_finish(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live& l = *it->second;
  if (!l.exit_recorded || l.open_streams > 0) return;
  if (l.attached) {
    l.attached->end(dump({{"type", "end"},
                          {"state", index::to_string(l.ended->state)},
                          {"exit", exec_exit_json(*l.ended)}}));
  }
  live_.erase(it);
}

Status Execs::resize(std::string_view id, unsigned short rows, unsigned short cols) {
  auto row = LJ_TRY(get(id));
  auto it = live_.find(row.id);
  if (it == live_.end() || !it->second->exec || it->second->exit_recorded)
    return fail(Errc::conflict, "exec", "exec " + row.id + " is not running");
  if (!it->second->master)
    return fail(Errc::conflict, "exec", "exec " + row.id + " has no terminal");
  struct winsize ws {};
  ws.ws_row = rows;
  ws.ws_col = cols;
  if (::ioctl(it->second->master.get(), TIOCSWINSZ, &ws) != 0)
    return fail_errno("exec", "resizing the terminal of exec " + row.id);
  return {};
}

void Execs::wait(std::string_view id, std::optional<std::chrono::milliseconds> timeout,
                 std::function<void(Result<ExecRow>)> done) {
  auto row = get(id);
  if (!row) return done(fail(row.error()));
  if (row->state == ExecState::exited) return done(std::move(*row));
  auto it = live_.find(row->id);
  if (row->state == ExecState::created && it == live_.end())
    return done(fail(Errc::conflict, "exec", "exec " + row->id + " was never started"));
  const std::uint64_t key = next_waiter_++;
  Waiter& w = waiters_[row->id][key];
  w.done = std::move(done);
  if (timeout) {
    w.timer = d_.loop.after(*timeout, [this, id = row->id, key] {
      auto wit = waiters_.find(id);
      if (wit == waiters_.end()) return;
      auto n = wit->second.extract(key);
      if (wit->second.empty()) waiters_.erase(wit);
      if (!n.empty()) n.mapped().done(get(id));
    });
  }
}

void Execs::answer_waiters(const ExecRow& row) {
  auto it = waiters_.find(row.id);
  if (it == waiters_.end()) return;
  auto ws = std::move(it->second);
  waiters_.erase(it);
  for (auto& [k, w] : ws) w.done(row);
}

void Execs::recover() {
  auto rows = d_.idx.list_execs("", ExecState::running);
  if (!rows) {
    lj::log("ljd")->error("recovery: listing running execs: {}", rows.error().what());
    return;
  }
  for (const ExecRow& row : *rows) {
    jail::ExecHandle h;
    h.pid = static_cast<pid_t>(row.pid);
    h.start_time = row.start_time;
    h.status_file = status_path(row.id);
    auto adopted = d_.backend ? d_.backend->adopt_exec(h)
                              : Result<std::unique_ptr<jail::Exec>>(
                                    fail(Errc::unsupported, "exec", "no backend"));
    if (adopted) {
      auto l = std::make_unique<Live>();
      l->id = row.id;
      l->exec = std::move(*adopted);
      // Its terminal, taken back from the monitor: for resize, and drained so that a process
      // writing to it never blocks on a full pty nobody reads.
      l->master = l->exec->take_terminal();
      if (l->master) {
        l->open_streams = 1;
        auto id = row.id;
        l->output.push_back(d_.loop.read_until_eof(
            UniqueFd(::fcntl(l->master.get(), F_DUPFD_CLOEXEC, 0)), [](std::string_view) {},
            [this, id] {
              auto it = live_.find(id);
              if (it == live_.end()) return;
              --it->second->open_streams;
              maybe_finish(id);
            }));
      }
      l->exit_watch =
          d_.loop.when_readable(l->exec->wait_fd(), [this, id = row.id] { on_exit_ready(id); });
      live_[row.id] = std::move(l);
      lj::log("ljd")->info("recovery: exec={} re-adopted (monitor pid {})", row.id, row.pid);
      continue;
    }
    jail::ExitStatus st;
    st.lost = true;
    if (auto f = jail::read_status_file(h.status_file)) st = *f;
    if (auto e = d_.emit(d_.idx.transition(row.id, ExecState::exited, exit_record(st))); !e) {
      lj::log("ljd")->error("recovery: exec={} recording its exit: {}", row.id, e.error().what());
      continue;
    }
    ::unlink(h.status_file.c_str());
    lj::log("ljd")->info("recovery: exec={} ended while ljd was down ({})", row.id,
                         st.lost ? "lost" : jail::status_line(st));
  }
}

}  // namespace lj::daemon
