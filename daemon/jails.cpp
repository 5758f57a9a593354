#include "daemon/images.hpp"
#include "daemon/jails.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/laps.hpp"
#include "common/log.hpp"
#include "common/memory.hpp"
#include "common/random_id.hpp"
#include "common/scope.hpp"
#include "daemon/crash_point.hpp"
#include "daemon/ndjson_log.hpp"
#include "daemon/networks.hpp"
#include "daemon/wire.hpp"
#include "jail/status_file.hpp"
#include "jail/terminal.hpp"

namespace lj::daemon {

using index::JailRow;
using index::JailState;
using nlohmann::json;

struct Jails::Live {
  std::string id;
  std::unique_ptr<jail::Jail> jail;  // null while spawning and once reaped
  bool spawning = false;
  bool exit_recorded = false;  // the row says exited
  bool torn_down = false;      // the Jail's teardown() is done (on the blocking pool)
  bool teardown_ok = false;    // ... and left nothing behind (else recovery releases it)
  std::optional<index::ExitRecord> pending_exit;  // reaped, the index refused the record so far
  int record_attempts = 0;
  std::unique_ptr<Watch> record_retry;
  Uid stop_uid;                // who asked it to stop, stamped on the exit event
  std::unique_ptr<Watch> exit_watch, deadline, kill_timer, drain_timer;
  std::unique_ptr<ReadWatch> readers[2];  // stdout, stderr pipes (a terminal: its master as stdout)
  // Upgraded attaches (attach.hpp): the output as bytes, pacing the readers; made at the first.
  std::unique_ptr<Attachments> attached;
  // Where an attached client's input goes: the write end of the stdin pipe (spec stdin), or the
  // terminal's master (spec tty + stdin); empty when the jail takes no input. The master also
  // answers resizes (terminal). Lost with ljd: a re-adopted jail keeps its terminal (init holds
  // the master, take_output) but its stdin pipe is gone (the command then reads EOF).
  UniqueFd input;
  UniqueFd terminal;
  int open_streams = 0;
  std::unique_ptr<RecordLog> log;            // the jail's output: file, seq and followers
  std::vector<std::filesystem::path> lower;  // the layers its root stacks (for "in use" checks)
  std::string partial[2];                    // an unfinished line per stream
  bool log_truncated = false;                // log_max_bytes reached: output is dropped
  std::vector<RowDone> on_finish;  // stop and forced delete answer once the jail is finished
  bool remove_on_finish = false;
  Uid remove_uid;
  std::vector<net::Attachment> links;  // its links into networks of ljd's (detached at teardown)
  std::vector<std::string> networks;   // their names (hosts files to refresh when it leaves)
};

namespace {

auto lg() {
  return lj::log("daemon");
}

Error jail_not_found(std::string_view id) {
  return Error(Errc::not_found, "jail", "no jail with id or name `" + std::string(id) + "`");
}

bool ended_state(JailState s) {
  return s == JailState::exited || s == JailState::removed;
}

// The exit the jail's init left in its status file (JailSpec::status_file), as an index record.
std::optional<index::ExitRecord> exit_from_status_file(const std::string& path) {
  auto st = jail::read_status_file(path);
  if (!st) return std::nullopt;
  index::ExitRecord rec;
  if (st->signal != 0)
    rec.exit_signal = st->signal;
  else
    rec.exit_code = st->code;
  return rec;
}

std::string end_record(const JailRow& row, std::uint64_t seq) {
  json j = {{"type", "end"},
            {"seq", seq},
            {"state", index::to_string(row.state)},
            {"exit", exit_json(row)}};
  return j.dump();
}

}  // namespace

Jails::Jails(Daemon& d) : d_(d) {}
Jails::~Jails() = default;

std::string Jails::log_path(const std::string& id) const {
  return (d_.cfg.root / ".ljd" / "logs" / (id + ".log")).string();
}
std::string Jails::status_path(const std::string& id) const {
  return (d_.cfg.root / ".ljd" / "run" / (id + ".status")).string();
}

Result<JailRow> Jails::get(std::string_view id_or_name) {
  auto r = d_.idx.get_jail(id_or_name);
  if (!r && r.error().errc() == Errc::not_found) return fail(jail_not_found(id_or_name));
  return r;
}

Result<std::vector<JailRow>> Jails::list(const index::JailFilter& filter) {
  return d_.idx.list_jails(filter);
}

Result<overlay::Chain> Jails::resolve_chain(const CreateJail& req) {
  if (!req.overlay) {
    auto world = LJ_TRY(overlay::WorldName::parse(req.world));
    return d_.catalog.resolve_world(world);
  }
  auto name = LJ_TRY(overlay::OverlayName::parse(req.overlay->name));
  auto constraint = LJ_TRY(
      overlay::Constraint::parse(req.overlay->version.empty() ? "*" : req.overlay->version));
  auto version = LJ_TRY(d_.catalog.find(name, constraint));
  auto chain = LJ_TRY(d_.catalog.resolve(name, version));
  if (!req.world.empty() && (!chain.world || chain.world->str() != req.world)) {
    return fail(Errc::conflict, "overlay",
                "overlay " + name.str() + "@" + version.str() + " is built on " + chain.base() +
                    ", not world " + req.world);
  }
  return chain;
}

// The root of a jail, resolved once per start (create, or start of a created jail): the world, or
// the overlay chain that satisfies the constraint down to its world, as layer directories, bottom
// first. A world that is not ready (importing, failed) is refused.
Result<std::vector<std::filesystem::path>> Jails::resolve_layers(const CreateJail& req) {
  if (!req.image.empty()) return LJ_TRY(d_.images->resolve(req.image)).image.layer_dirs;
  overlay::Chain chain = LJ_TRY(resolve_chain(req));
  if (chain.image) {
    // An overlay built `from image`: the image's layers (pinned by digest) go under the chain.
    auto base = LJ_TRY_CTX("the base of " + chain.base(), d_.images->resolve(chain.image->digest));
    std::vector<std::filesystem::path> layers = std::move(base.image.layer_dirs);
    layers.insert(layers.end(), chain.lower.begin(), chain.lower.end());
    return layers;
  }
  if (auto w = d_.idx.get_world(chain.world->str()); w && w->state != index::WorldState::ready) {
    return fail(Errc::conflict, "world",
                "world `" + chain.world->str() + "` is " + std::string(index::to_string(w->state)));
  }
  return std::move(chain.lower);
}

Status Jails::publish_exposed(CreateJail& req, const std::vector<ExposedPort>& wanted) {
  if (wanted.empty()) return {};
  PortRange range = d_.cfg.publish_port_range;
  if (!range.set()) range = LJ_TRY_CTX("publish_all", ephemeral_port_range());
  // Taken: the request's own ports and those of every jail not yet ended (a created jail keeps
  // its host ports for its start). Whatever their host_ip: a wildcard is what -P publishes on.
  std::set<HostPortKey> taken;
  for (const auto& p : req.net.ports) taken.insert({p.host_port, p.proto});
  for (const auto& row : LJ_TRY(d_.idx.list_jails_in_flight())) {
    auto spec = json::parse(row.spec, nullptr, false);
    if (!spec.is_object() || !spec.contains("ports") || !spec["ports"].is_array()) continue;
    for (const auto& p : spec["ports"]) {
      if (!p.is_object() || !p.value("host_port", json()).is_number_unsigned()) continue;
      taken.insert({p["host_port"].get<std::uint16_t>(),
                    p.value("protocol", std::string("tcp")) == "udp" ? net::Proto::udp
                                                                     : net::Proto::tcp});
    }
  }
  auto picked = LJ_TRY_CTX("publish_all",
                           pick_host_ports(wanted, range, std::move(taken), host_port_free,
                                           &next_host_port_));
  req.net.ports.insert(req.net.ports.end(), picked.begin(), picked.end());
  if (req.net.networks.empty()) req.net.networks.push_back({kDefaultNetwork, {}, {}});
  return {};
}

void Jails::create(CreateJail req, bool start, Uid uid, RowDone done) {
  Laps laps;
  if (d_.stopping) return done(fail(Errc::busy, "jail", "ljd is shutting down"));
  if (start && !d_.backend) {
    return done(fail(Errc::unsupported, "jail", "this ljd was built without a jail backend"));
  }
  if (live_.size() >= d_.cfg.max_jails) {
    return done(fail(Errc::limit, "jail",
                     "max_jails (" + std::to_string(d_.cfg.max_jails) + ") jails are live"));
  }
  // An image's config gives the defaults (pinned to its digest), and with publish_all the ports
  // to publish on host ports picked now: before the row is written, on the loop thread, so no
  // other create picks the same.
  if (!req.image.empty()) {
    std::vector<ExposedPort> to_publish;
    if (Status st = d_.images->prepare_create(req, &to_publish); !st)
      return done(tl::unexpected(st.error()));
    if (Status st = publish_exposed(req, to_publish); !st) return done(tl::unexpected(st.error()));
  }
  auto layers = resolve_layers(req);
  if (!layers) return done(tl::unexpected(layers.error()));
  laps.lap("layers");
  // Its addresses, stored with its row (one transaction): never handed out twice.
  std::vector<index::LeaseRow> leases;
  if (req.net.any()) {
    auto l = d_.networks->lease(req.net);
    if (!l) return done(tl::unexpected(l.error()));
    leases = std::move(*l);
    laps.lap("lease");
  }

  JailRow row;
  row.name = req.name;
  row.spec = encode_create(req).dump();
  row.labels = req.labels;
  row.auto_remove = req.auto_remove;
  row.owner_uid = uid.value_or(0);
  Result<JailRow> ins = fail(Errc::internal, "jail", "no id");
  // The one retry on a clash of ids (odds n/2^32): the index generates none for us, since the
  // log path follows the id.
  for (int attempt = 0; attempt < 4; ++attempt) {
    row.id = lj::random_id("j", 4);
    row.log_path = log_path(row.id);
    ins = d_.idx.insert_jail(row, leases);
    if (ins || ins.error().errc() != Errc::exists) break;
    if (!req.name.empty()) {
      auto other = d_.idx.get_jail(req.name);
      if (other && other->state != JailState::removed) {
        return done(fail(Errc::exists, "jail", "a jail named `" + req.name + "` exists"));
      }
    }
  }
  if (!ins) return done(tl::unexpected(ins.error()));
  std::string id = ins->id;
  laps.lap("row");
  lg()->debug("jail={} create took {}us ({})", id, laps.total_us(), laps.text());
  crash_point("create.after_row");
  if (!start) {
    if (auto st = d_.emit(d_.idx.transition(id, index::JailState::created, {}, uid)); !st)
      return done(tl::unexpected(st.error()));
    crash_point("create.after_created");
    return done(get(id));
  }
  spawn(std::move(id), std::move(req), std::move(*layers), true, uid, std::move(done));
}

void Jails::start(std::string_view id_or_name, Uid uid, RowDone done) {
  auto row = get(id_or_name);
  if (!row) return done(row);
  if (d_.stopping) return done(fail(Errc::busy, "jail", "ljd is shutting down"));
  if (row->state != JailState::created || live_.count(row->id)) {
    return done(fail(
        Errc::conflict, "jail",
        "jail " + row->id + " is " + std::string(index::to_string(row->state)) + ", not created"));
  }
  if (!d_.backend) {
    return done(fail(Errc::unsupported, "jail", "this ljd was built without a jail backend"));
  }
  auto doc = json::parse(row->spec, nullptr, false);
  auto req = decode_create(doc, d_.cfg, nullptr);
  if (!req) return done(fail(req.error().context("stored spec of " + row->id)));
  auto layers = resolve_layers(*req);
  if (!layers) return done(fail(std::move(layers).error().context("starting jail " + row->id)));
  spawn(row->id, std::move(*req), std::move(*layers), false, uid, std::move(done));
}

// A start, as a checklist: (1) the spec on the resolved layers, (2) the output pipes, (3) the live
// entry, (4) Backend::spawn on the pool, (5) back on the loop: the row `running` with its event,
// then output readers and supervision. Any failure before (5) is done is undone by one step,
// abandon_start, in reverse.
void Jails::spawn(std::string id, CreateJail req, std::vector<std::filesystem::path> layers,
                  bool fresh, Uid uid, RowDone done) {
  struct Job {
    jail::JailSpec spec;
    UniqueFd out_w, err_w, in_r, console_theirs, console_ours;
    std::optional<NetPlan> net;
    NetAttached attached;
    Result<std::unique_ptr<jail::Jail>> result = fail(Errc::internal, "jail", "not run");
  };
  // 1. The spec, and its networks' plan (resolv.conf and hosts bound in).
  Laps laps;
  auto job = std::make_shared<Job>();
  job->spec = make_spec(req, id, std::move(layers));
  job->spec.status_file = status_path(id);
  if (req.net.any()) {
    auto plan = d_.networks->plan(id, job->spec.hostname, req.net);
    if (!plan) return abandon_start(id, fresh, std::move(plan).error(), done);
    for (const auto& v : plan->files) job->spec.root.volumes.push_back(v);
    job->net = std::move(*plan);
    laps.lap("plan");
  }
  // 2. The stdio: a terminal, whose master comes back on a console socket (read as stdout), or
  // the output pipes, of which the jail's init holds a read end too (read_output); a pipe to
  // stdin when the request keeps it open.
  auto pipes = std::make_shared<std::pair<UniqueFd, UniqueFd>>();
  UniqueFd input;
  if (req.tty) {
    int sp[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
      return abandon_start(id, fresh, Error::from_errno("jail", "socketpair"), done);
    job->console_ours.reset(sp[0]);
    job->console_theirs.reset(sp[1]);
    job->spec.tty = jail::Terminal{sp[1], req.tty_rows, req.tty_cols};
  } else {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0)
      return abandon_start(id, fresh, Error::from_errno("jail", "pipe2"), done);
    pipes->first.reset(out[0]);
    job->out_w.reset(out[1]);
    if (::pipe2(err, O_CLOEXEC) != 0)
      return abandon_start(id, fresh, Error::from_errno("jail", "pipe2"), done);
    pipes->second.reset(err[0]);
    job->err_w.reset(err[1]);
    job->spec.stdio.out = job->out_w.get();
    job->spec.stdio.err = job->err_w.get();
    job->spec.stdio.out_read = pipes->first.get();
    job->spec.stdio.err_read = pipes->second.get();
    if (req.stdin_open) {
      int in[2];
      if (::pipe2(in, O_CLOEXEC) != 0)
        return abandon_start(id, fresh, Error::from_errno("jail", "pipe2"), done);
      job->in_r.reset(in[0]);
      input.reset(in[1]);
      job->spec.stdio.in = in[0];
    }
  }
  // 3. The live entry, which log followers that came early join.
  auto& slot = live_[id];
  slot = std::make_unique<Live>();
  slot->id = id;
  slot->spawning = true;
  slot->lower = job->spec.root.layers;
  slot->input = std::move(input);
  if (auto fit = followers_.find(id); fit != followers_.end()) {
    for (auto& f : fit->second) log_of(*slot).follow(std::move(f.w), f.after);
    followers_.erase(fit);
  }

  lg()->debug("jail={} prepare took {}us ({})", id, laps.total_us(), laps.text());
  // 4. The backend, on the pool.
  const bool tty = req.tty, tty_input = req.tty && req.stdin_open;
  auto finish = std::make_shared<RowDone>(std::move(done));
  jail::Backend* backend = d_.backend.get();
  Networks* networks = d_.networks.get();
  d_.loop.blocking([this, job, pipes, finish, backend, networks, id, fresh, uid, tty, tty_input] {
    auto t0 = std::chrono::steady_clock::now();
    // Its networks (join_networks): on Linux its namespace now, which the jail joins (mode
    // netns), its links while the jail's init assembles its root; on FreeBSD its links go into
    // its VNET from on_vnet.
    Status joined;
    if (job->net) joined = networks->attach(*job->net, job->spec, job->attached);
    auto t1 = std::chrono::steady_clock::now();
    if (joined)
      job->result = backend->spawn(job->spec);
    else
      job->result = fail(std::move(joined).error());
    job->attached.netns.reset();  // the jail holds its namespace now
    if (job->result && job->spec.tty) {
      // Sent before the command started: it is in the socket by now.
      job->console_theirs.reset();
      auto master = jail::receive_terminal(job->console_ours.get());
      if (!master)
        job->result = fail(std::move(master).error());
      else
        pipes->first = std::move(*master);
    }
    crash_point("start.after_spawn");
    auto us = [](auto d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); };
    // With networks: its namespace taken (t1), its links made beside the spawn (made).
    lg()->debug("jail={} spawn took {}us (namespace {}us, links made at {}us)", id,
                us(std::chrono::steady_clock::now() - t0), us(t1 - t0),
                job->attached.made > t0 ? us(job->attached.made - t0) : 0);
    // Our copies of the write ends go now: EOF then comes when the jail's own are gone.
    job->out_w.reset();
    job->err_w.reset();
    job->in_r.reset();
    // 5. Back on the loop: the row, then supervision.
    d_.loop.post([this, job, pipes, finish, id, fresh, uid, tty, tty_input] {
      Laps steps;
      Live& l = *live_.at(id);
      l.spawning = false;
      if (!job->result) return abandon_start(id, fresh, std::move(job->result).error(), *finish);
      l.jail = std::move(*job->result);
      if (tty) {
        l.terminal.reset(::fcntl(pipes->first.get(), F_DUPFD_CLOEXEC, 0));
        if (tty_input && l.terminal) l.input.reset(::fcntl(l.terminal.get(), F_DUPFD_CLOEXEC, 0));
      }
      const jail::JailHandle& h = l.jail->handle();
      auto ev = d_.emit(
          d_.idx.transition(id, index::JailState::running,
                            index::ProcessHandle{h.pid, h.start_time, h.cgroup, h.jid}, uid));
      // Without its row the jail could not be recovered: it must not run (abandon_start kills it).
      if (!ev) return abandon_start(id, fresh, std::move(ev).error(), *finish);
      steps.lap("row");
      if (job->net) {
        l.links = std::move(job->attached.links);
        l.networks = job->net->networks();
      }
      const std::vector<std::string> on_networks = l.networks;
      read_output(l, std::move(pipes->first), std::move(pipes->second));
      supervise(l);
      crash_point("start.after_row");
      if (d_.stopping) (void)l.jail->signal(SIGKILL, true);
      (*finish)(get(id));
      steps.lap("reply");
      // The peers' hosts files learn its name once the caller has its answer (its own was
      // written by plan): off the start's path, and before the loop reads the next request.
      if (!on_networks.empty()) {
        d_.networks->refresh_hosts(on_networks, id);
        steps.lap("hosts");
      }
      lg()->debug("jail={} running took {}us ({})", id, steps.total_us(), steps.text());
    });
  });
}

// The one undo of a start that failed before its row said `running`, in reverse of spawn's
// steps: the live entry (with it the Jail, whose destructor kills a started jail and tears it
// down), the files the start may have made (log, status file: the backend opens it before it can
// fail), the row of a jail created for this very start. Then the caller is answered.
void Jails::abandon_start(const std::string& id, bool fresh, Error e, const RowDone& done) {
  live_.erase(id);
  ::unlink(log_path(id).c_str());
  ::unlink(status_path(id).c_str());
  d_.networks->forget(id);
  if (fresh) (void)d_.idx.delete_jail(id);  // its leases go with the row
  done(fail(std::move(e).context("starting jail " + id)));
}

// The jail's init holds another read end of both pipes (Stdio::out_read): when ljd dies, the
// jail's writes wait in the pipes (or block once one is full) instead of failing with EPIPE,
// and the next ljd reads on from the ends it takes back from init (recover).
void Jails::read_output(Live& l, UniqueFd out, UniqueFd err) {
  const std::string id = l.id;
  l.open_streams = err ? 2 : 1;  // a terminal has one stream, its master
  for (int s = 0; s < l.open_streams; ++s) {
    l.readers[s] = d_.loop.read_until_eof(
        std::move(s == 0 ? out : err),
        [this, id, s](std::string_view data) {
          auto lit = live_.find(id);
          if (lit != live_.end()) on_output(*lit->second, s, data);
        },
        [this, id] { on_output_eof(id); });
  }
}

void Jails::supervise(Live& l) {
  std::string id = l.id;
  int fd = l.jail->wait_fd();
  if (fd >= 0) {
    l.exit_watch = d_.loop.when_readable(fd, [this, id] { on_exit_ready(id); });
  } else {
    // An adopted jail without a process descriptor: poll for its end.
    l.exit_watch = d_.loop.after(std::chrono::milliseconds(200), [this, id] { on_exit_ready(id); });
  }
  auto deadline = l.jail->deadline();
  if (deadline != std::chrono::steady_clock::time_point::max() && !l.deadline) {
    l.deadline = d_.loop.at(deadline, [this, id] {
      auto it = live_.find(id);
      if (it == live_.end() || !it->second->jail) return;
      if (auto st = it->second->jail->expire(); !st) {
        lg()->warn("jail={} expiring: {}", id, st.error().what());
      }
    });
  }
}

void Jails::on_exit_ready(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end() || !it->second->jail) return;
  // Reaped here, on the loop thread: waitid on a readable pidfd and a read of the status pipe
  // and the OOM counter do not block. The teardown, which may (cgroup v1 emptying, FreeBSD's
  // jail_remove and unmounts), runs on the blocking pool once the exit is recorded (teardown).
  auto t0 = std::chrono::steady_clock::now();
  auto st = it->second->jail->poll();
  lg()->debug(
      "jail={} reap took {}us", id,
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  on_reaped(id, std::move(st));
}

void Jails::on_reaped(const std::string& id, Result<std::optional<jail::ExitStatus>> st) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live& l = *it->second;
  if (st && !*st) {
    // Not ended yet (an adopted jail polled on a timer): look again later.
    l.exit_watch = d_.loop.after(std::chrono::milliseconds(200), [this, id] { on_exit_ready(id); });
    return;
  }
  index::ExitRecord rec;
  if (!st) {
    lg()->error("jail={} reaping: {}", id, st.error().what());
    rec.lost = true;
  } else {
    const jail::ExitStatus& s = **st;
    if (s.signal != 0)
      rec.exit_signal = s.signal;
    else
      rec.exit_code = s.code;
    rec.oom = s.oom;
    rec.timed_out = s.timed_out;
    rec.lost = s.lost;
  }
  l.exit_watch.reset();
  l.deadline.reset();
  l.kill_timer.reset();
  crash_point("exit.before_record");  // reaped, not yet recorded
  Laps laps;
  l.pending_exit = rec;
  // The teardown goes on while a refused record is retried: it needs nothing of the index, and
  // the status file (kept until both are done) is the durable copy of the exit meanwhile.
  if (try_record_exit(l)) {
    crash_point("exit.after_record");  // recorded, not torn down: recover() releases it
  } else {
    retry_record_exit(id);
  }
  laps.lap("record");
  teardown(l);
  laps.lap("post");
  lg()->debug("jail={} exit took {}us ({})", id, laps.total_us(), laps.text());
}

// The Jail goes to the blocking pool, which tears it down and destroys it; the live entry (and
// with it the waiters and log followers) waits for that. Its status file stays until the
// teardown is done and the exit recorded: a ljd killed meanwhile finds it at recovery, records
// the exit from it if the row does not say exited, and releases the jail by name.
void Jails::teardown(Live& l) {
  std::shared_ptr<jail::Jail> j = std::move(l.jail);
  std::string id = l.id;
  auto links = std::make_shared<std::vector<net::Attachment>>(std::move(l.links));
  Networks* networks = d_.networks.get();
  d_.loop.blocking([this, j, id, links, networks]() mutable {
    if (long ms = fault("teardown.delay_ms"); ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // test seam (crash_point.hpp)
    }
    auto t0 = std::chrono::steady_clock::now();
    Status st = j->teardown();
    j.reset();
    auto t1 = std::chrono::steady_clock::now();
    // Its processes are gone, and with them its namespace: the kernel removes the links' both
    // ends; only the rules are ljd's to delete.
    for (auto& link : *links) {
      if (auto d = link.detach(net::Unlink::with_namespace); !d)
        lg()->warn("jail={} leaving network {}: {}", id, link.network().name, d.error().what());
    }
    const bool had_links = !links->empty();
    links->clear();
    auto us = [](auto d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); };
    lg()->debug("jail={} teardown took {}us (networks {}us)", id,
                us(std::chrono::steady_clock::now() - t0), us(std::chrono::steady_clock::now() - t1));
    d_.loop.post([this, id, st = std::move(st)] { on_torn_down(id, st); });
    // Its resolv.conf and hosts (unbound by now), while the loop answers its waiters: nothing
    // reads or writes them once it has exited (refresh_hosts passes over ended jails).
    if (had_links) networks->forget(id);
  });
}

void Jails::on_torn_down(const std::string& id, const Status& st) {
  if (!st) {
    // The status file stays: the next ljd's recovery tries the release again.
    lg()->error("jail={} teardown left state behind: {}", id, st.error().what());
  }
  auto it = live_.find(id);
  // Shut down meanwhile: the status file stays for the next ljd, whose recovery settles it.
  if (it == live_.end()) return;
  Laps laps;
  Live& l = *it->second;
  l.torn_down = true;
  l.teardown_ok = bool(st);
  if (!l.networks.empty()) {
    // Its rules are gone (teardown detached it): only now are its addresses free again (setup
    // leased, then attached; the teardown undoes it in reverse). A jail removed when it finishes
    // releases them with that row's transition (the trigger leases_release): one write fewer on
    // the way to its end. A refused release leaves the lease to the next start's recovery.
    auto row = get(id);
    const bool removing = l.remove_on_finish || (row && row->auto_remove);
    if (!removing) {
      if (auto r = d_.idx.release_leases(id); !r)
        lg()->warn("jail={} releasing its addresses: {}", id, r.error().what());
    }
    laps.lap("release");
  }
  // The peers' hosts files lose its name after its waiters have their answer (maybe_finish),
  // except during a stop, whose end (on_empty_) maybe_finish may run.
  const std::vector<std::string> networks = l.networks;
  const bool hosts_now = d_.stopping;
  if (hosts_now && !networks.empty()) d_.networks->refresh_hosts(networks);
  if (l.teardown_ok && l.exit_recorded) ::unlink(status_path(id).c_str());
  // Every writer of the pipes is dead after teardown: what is left in them (a pipe's worth) goes
  // to the attached clients unpaced, so that a client that does not read cannot hold the end.
  if (l.attached) l.attached->unpace();
  if (l.open_streams > 0) {
    // Every writer of the pipes is dead after teardown, so EOF is due; do not hang on it.
    l.drain_timer = d_.loop.after(std::chrono::seconds(2), [this, id] {
      auto lit = live_.find(id);
      if (lit == live_.end()) return;
      lit->second->readers[0].reset();
      lit->second->readers[1].reset();
      lit->second->open_streams = 0;
      maybe_finish(id);
    });
  }
  maybe_finish(id);  // may erase the live entry
  laps.lap("finish");
  if (!hosts_now && !networks.empty()) {
    d_.networks->refresh_hosts(networks);
    laps.lap("hosts");
  }
  lg()->debug("jail={} torn down took {}us ({})", id, laps.total_us(), laps.text());
}

void Jails::on_output(Live& l, int stream, std::string_view data) {
  // Attached clients get the bytes as read, whatever the log does with them (line pieces, the
  // size cap).
  if (l.attached) l.attached->output(stream, data);
  // A terminal's output is interactive (a prompt, the echo of one key): logged, and so sent to
  // an attached client, as it comes, not held until a newline.
  if (l.terminal) {
    append_log(l, stream, data);
    return;
  }
  std::string& part = l.partial[stream];
  part.append(data);
  std::size_t start = 0;
  for (;;) {
    std::size_t nl = part.find('\n', start);
    if (nl == std::string::npos) break;
    append_log(l, stream, std::string_view(part).substr(start, nl + 1 - start));
    start = nl + 1;
  }
  part.erase(0, start);
  if (part.size() >= 16384) {
    append_log(l, stream, part);
    part.clear();
  }
}

void Jails::on_output_eof(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live& l = *it->second;
  if (l.open_streams > 0) --l.open_streams;
  maybe_finish(id);
}

void Jails::append_log(Live& l, int stream, std::string_view data) {
  if (l.log_truncated) return;  // read (the jail never blocks on a full pipe) and dropped
  std::string fields = output_fields(stream, data);
  fields += R"(,"time":")" + iso_time(index::now()) + "\"";
  RecordLog& log = log_of(l);
  // The cap counts stored bytes (text as JSON, NUL-heavy or binary output as base64: 4/3).
  const std::uint64_t cap = d_.cfg.log_max_bytes;
  if (cap != 0 && log.bytes() + fields.size() + 24 > cap) {
    l.log_truncated = true;
    log.append(R"(,"truncated":true,"limit_bytes":)" + std::to_string(cap) + R"(,"time":")" +
                   iso_time(index::now()) + "\"",
               d_.cfg.stream_backlog_bytes);
    lg()->warn("jail={} output reached log_max_bytes ({}); the rest is dropped", l.id, cap);
    return;
  }
  log.append(fields, d_.cfg.stream_backlog_bytes);
}

RecordLog& Jails::log_of(Live& l) {
  // Made on first use: most short jails print nothing, and creating a file on the index's file
  // system is one of the dearest steps of a spawn (ext4 inode allocation, ~0.3 ms in strace).
  if (!l.log) l.log = std::make_unique<RecordLog>(log_path(l.id));
  return *l.log;
}

bool Jails::try_record_exit(Live& l) {
  // Not into a file nobody will read again: while the index file is gone and cannot be put back,
  // the exit waits in its status file like any refused record.
  auto ev = d_.check_index_file()
                ? d_.emit(d_.idx.transition(l.id, index::JailState::exited, *l.pending_exit,
                                            l.stop_uid))
                : Status(fail(Errc::system, "index", d_.index_file.state));
  if (ev) {
    if (l.record_attempts > 0) {
      --d_.exit_records.pending;
      lg()->info("jail={} exit recorded after {} failed attempts", l.id, l.record_attempts);
    }
    l.pending_exit.reset();
    l.exit_recorded = true;
    return true;
  }
  ++d_.exit_records.failed_writes;
  d_.exit_records.last_error = "jail " + l.id + ": " + ev.error().what();
  Errc e = ev.error().errc();
  bool transient = e == Errc::busy || e == Errc::no_space || e == Errc::system ||
                   e == Errc::timed_out;
  if (!transient) {
    // Not a fault that passes (the row is gone, a bug): retrying would not help.
    lg()->error("jail={} recording exit: {}", l.id, ev.error().what());
    if (l.record_attempts > 0) --d_.exit_records.pending;
    l.pending_exit.reset();
    l.exit_recorded = true;
    return true;
  }
  if (l.record_attempts == 0) ++d_.exit_records.pending;
  lg()->error("jail={} recording exit (attempt {}): {}; its status file is kept, retrying", l.id,
              l.record_attempts + 1, ev.error().what());
  return false;
}

void Jails::retry_record_exit(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live& l = *it->second;
  ++l.record_attempts;
  // 200 ms, doubling, at most 10 s: a held write lock is usually let go within seconds; a full
  // disk needs an operator, and /v1/info says so meanwhile.
  auto delay = std::min<std::chrono::milliseconds>(
      std::chrono::milliseconds(200) * (1 << std::min(l.record_attempts - 1, 6)),
      std::chrono::seconds(10));
  l.record_retry = d_.loop.after(delay, [this, id] {
    auto lit = live_.find(id);
    if (lit == live_.end() || !lit->second->pending_exit) return;
    if (!try_record_exit(*lit->second)) return retry_record_exit(id);
    if (lit->second->teardown_ok) ::unlink(status_path(id).c_str());
    maybe_finish(id);
  });
}

void Jails::maybe_finish(const std::string& id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live& l = *it->second;
  if (l.exit_recorded && l.torn_down && l.open_streams == 0) finish(l);
}

void Jails::finish(Live& l) {
  Laps laps;
  std::string id = l.id;
  for (int s = 0; s < 2; ++s) {
    if (!l.partial[s].empty()) append_log(l, s, l.partial[s]);
    l.partial[s].clear();
  }
  if (l.log) l.log->close();
  auto row = get(id);
  bool remove = l.remove_on_finish || (row && row->auto_remove);
  if (row && remove && row->state != JailState::removed) {
    if (auto ev = d_.emit(d_.idx.transition(id, index::JailState::removed, {},
                                            l.remove_on_finish ? l.remove_uid : Uid()));
        !ev) {
      lg()->error("jail={} removing: {}", id, ev.error().what());
    }
    row = get(id);
    laps.lap("remove");
  }
  auto callbacks = std::move(l.on_finish);
  if (row && l.log) l.log->end_followers(end_record(*row, l.log->last_seq() + 1));
  if (l.attached) l.attached->end(row ? end_record(*row, 0) : std::string());
  live_.erase(id);
  laps.lap("erase");
  if (row) answer_waiters(*row);
  for (auto& cb : callbacks) cb(row);
  laps.lap("answer");
  lg()->debug("jail={} finish took {}us ({})", id, laps.total_us(), laps.text());
  if (live_.empty() && on_empty_) {
    auto f = std::move(on_empty_);
    on_empty_ = nullptr;
    f();
  }
  if (live_.empty() && !trim_timer_) {
    // Once no jail has run for a while, the heap a burst left behind goes back to the kernel
    // (1,000 live jails and their removal left ljd at 28 MiB, 11 MiB before). Not after every
    // jail: a daemon running short jails one after the other is empty between them.
    trim_timer_ = d_.loop.after(std::chrono::seconds(2), [this] {
      trim_timer_.reset();
      if (live_.empty()) d_.loop.blocking([] { release_free_memory(); });
    });
  }
}

void Jails::answer_waiters(const JailRow& row) {
  auto it = waiters_.find(row.id);
  if (it == waiters_.end()) return;
  auto ws = std::move(it->second);
  waiters_.erase(it);
  for (auto& [n, w] : ws) {
    w.timer.reset();
    w.done(WaitResult{row, false});
  }
}

void Jails::end_followers(const JailRow& row) {
  auto it = followers_.find(row.id);
  if (it == followers_.end()) return;
  for (auto& f : it->second) {
    f.w->write(end_record(row, 1));
    f.w->end();
  }
  followers_.erase(it);
}

void Jails::wait(std::string_view id_or_name, std::optional<std::chrono::milliseconds> timeout,
                 std::function<void(Result<WaitResult>)> done) {
  auto row = get(id_or_name);
  if (!row) return done(tl::unexpected(row.error()));
  if (ended_state(row->state) && !live_.count(row->id)) return done(WaitResult{*row, false});
  std::string id = row->id;
  std::uint64_t n = next_waiter_++;
  Waiter& w = waiters_[id][n];
  w.done = std::move(done);
  if (timeout) {
    w.timer = d_.loop.after(*timeout, [this, id, n] {
      auto it = waiters_.find(id);
      if (it == waiters_.end()) return;
      auto wit = it->second.find(n);
      if (wit == it->second.end()) return;
      auto cb = std::move(wit->second.done);
      it->second.erase(wit);
      if (it->second.empty()) waiters_.erase(it);
      auto r = get(id);
      if (!r) return cb(tl::unexpected(r.error()));
      cb(WaitResult{*r, true});
    });
  }
}

void Jails::stop(std::string_view id_or_name, int sig, std::chrono::milliseconds timeout, Uid uid,
                 RowDone done) {
  auto row = get(id_or_name);
  if (!row) return done(row);
  auto it = live_.find(row->id);
  if (it == live_.end()) {
    if (ended_state(row->state)) return done(row);  // already stopped: nothing to do
    return done(fail(Errc::conflict, "jail", "jail " + row->id + " was never started"));
  }
  Live& l = *it->second;
  if (l.spawning) return done(fail(Errc::busy, "jail", "jail " + row->id + " is starting"));
  l.on_finish.push_back(std::move(done));
  if (!l.jail) return;  // ending already
  if (row->state == JailState::running) {
    if (auto ev = d_.emit(d_.idx.transition(row->id, index::JailState::stopping, {}, uid)); !ev) {
      lg()->warn("jail={} recording stopping: {}", row->id, ev.error().what());
    }
  }
  l.stop_uid = uid;
  if (sig == 0) sig = stop_signal_of(row->spec);  // its image's StopSignal, or SIGTERM
  if (auto st = l.jail->signal(sig, false); !st) {
    lg()->warn("jail={} signal {}: {}", row->id, sig, st.error().what());
  }
  std::string id = row->id;
  l.kill_timer = d_.loop.after(timeout, [this, id] {
    auto lit = live_.find(id);
    if (lit == live_.end() || !lit->second->jail) return;
    (void)lit->second->jail->signal(SIGKILL, true);
  });
}

Result<JailRow> Jails::kill(std::string_view id_or_name, int sig, Uid uid) {
  auto row = LJ_TRY(get(id_or_name));
  auto it = live_.find(row.id);
  if (it == live_.end() || !it->second->jail) {
    if (it != live_.end() && it->second->spawning) {
      return fail(Errc::busy, "jail", "jail " + row.id + " is starting");
    }
    return fail(
        Errc::conflict, "jail",
        "jail " + row.id + " is " + std::string(index::to_string(row.state)) + ", not running");
  }
  LJ_TRY_CTX("signalling jail " + row.id, it->second->jail->signal(sig, true));
  LJ_TRY(d_.emit(d_.idx.append_event("jail.signalled", row.id, uid, json{{"signal", sig}}.dump())));
  return row;
}

namespace {
Error not_running(const JailRow& row) {
  return Error(Errc::conflict, "jail",
               "jail " + row.id + " is " + std::string(index::to_string(row.state)) +
                   ", not running");
}
}  // namespace

Status Jails::resize(std::string_view id_or_name, unsigned short rows, unsigned short cols) {
  auto row = LJ_TRY(get(id_or_name));
  auto it = live_.find(row.id);
  if (it == live_.end() || !it->second->jail) return fail(not_running(row));
  if (!it->second->terminal)
    return fail(Errc::conflict, "jail", "jail " + row.id + " has no terminal (spec tty)");
  struct winsize ws {};
  ws.ws_row = rows;
  ws.ws_col = cols;
  if (::ioctl(it->second->terminal.get(), TIOCSWINSZ, &ws) != 0)
    return fail_errno("jail", "resizing the terminal of jail " + row.id);
  return {};
}

Status Jails::attach(std::string_view id_or_name, std::shared_ptr<StreamWriter> w,
                     bool from_start) {
  auto row = LJ_TRY(get(id_or_name));
  auto it = live_.find(row.id);
  if (it == live_.end() || !it->second->jail || it->second->exit_recorded)
    return fail(not_running(row));
  RecordLog& log = log_of(*it->second);
  std::uint64_t after = log.last_seq();
  if (from_start) after = replay_records(log.path(), 0, w.get());
  log.follow(std::move(w), after);
  return {};
}

Status Jails::attach_stdio(std::string_view id_or_name, bool from_start, const MakeSink& make) {
  auto row = LJ_TRY(get(id_or_name));
  auto it = live_.find(row.id);
  if (it == live_.end() || !it->second->jail || it->second->exit_recorded)
    return fail(not_running(row));
  Live& l = *it->second;
  UniqueFd input;
  if (l.input) {
    input.reset(::fcntl(l.input.get(), F_DUPFD_CLOEXEC, 0));
    if (!input) return fail_errno("jail", "dup the input of jail " + row.id);
  }
  Replay replay;
  if (from_start && l.log) replay = Replay{l.log->path(), l.log->last_seq()};
  auto sink = make(std::move(input), static_cast<bool>(l.terminal), std::move(replay));
  if (from_start) {
    // Read, not logged yet (an unfinished line): after the replay, before the live output.
    for (int s = 0; s < 2; ++s) sink->output(s, l.partial[s]);
  }
  if (!l.attached) {
    l.attached = std::make_unique<Attachments>(d_.loop, [this, id = row.id](bool pause) {
      auto lit = live_.find(id);
      if (lit == live_.end()) return;
      for (auto& r : lit->second->readers) {
        if (r && pause) r->pause();
        if (r && !pause) r->resume();
      }
    });
  }
  l.attached->add(std::move(sink));
  return {};
}

void Jails::close_stdin(const std::string& id) {
  auto it = live_.find(id);
  if (it != live_.end() && !it->second->terminal) it->second->input.reset();
}

void Jails::remove(std::string_view id_or_name, bool force, Uid uid, RowDone done) {
  auto row = get(id_or_name);
  if (!row) return done(row);
  if (row->state == JailState::removed) return done(fail(jail_not_found(id_or_name)));
  auto it = live_.find(row->id);
  if (it != live_.end()) {
    Live& l = *it->second;
    if (!force) {
      return done(fail(Errc::conflict, "jail",
                       "jail " + row->id + " is running; stop it first or pass force=true"));
    }
    if (l.spawning) return done(fail(Errc::busy, "jail", "jail " + row->id + " is starting"));
    // Recorded before the kill: a ljd that dies now removes the jail at recovery (settle, or
    // finish of the re-adopted jail), instead of leaving it `exited`.
    if (auto marked = d_.idx.set_auto_remove(row->id); !marked) return done(fail(marked.error()));
    l.remove_on_finish = true;
    l.remove_uid = uid;
    l.on_finish.push_back(std::move(done));
    if (l.jail) (void)l.jail->signal(SIGKILL, true);
    crash_point("delete.after_kill");
    return;
  }
  if (auto ev = d_.emit(d_.idx.transition(row->id, index::JailState::removed, {}, uid)); !ev) {
    return done(tl::unexpected(ev.error()));
  }
  crash_point("delete.after_row");
  auto removed = get(row->id);
  if (removed) {
    answer_waiters(*removed);
    end_followers(*removed);
  }
  done(removed);
}

void Jails::logs(const JailRow& request_row, std::uint64_t after, bool follow,
                 std::shared_ptr<StreamWriter> w) {
  // The row as it is now: the stream starts after the request was answered, and a short jail may
  // have ended (and left live_) in between; a follower parked for a jail that already ended
  // would wait forever (ljctl run hung, 1 in 10, in LjctlBlackbox.BuildPublishesAndRunsTheOverlay).
  auto now = get(request_row.id);
  const JailRow& row = now ? *now : request_row;
  std::uint64_t last = replay_records(log_path(row.id), after, w.get());
  auto it = live_.find(row.id);
  if (it == live_.end() && (ended_state(row.state) || row.state == JailState::creating)) {
    w->write(end_record(row, last + 1));
    w->end();
    return;
  }
  if (!follow) {
    w->end();
    return;
  }
  if (it != live_.end()) {
    log_of(*it->second).follow(std::move(w), std::max(after, last));
  } else {
    followers_[row.id].push_back(Follower{std::move(w), std::max(after, last)});  // not started
  }
}

bool Jails::uses(const std::filesystem::path& dir) const {
  for (const auto& [id, l] : live_) {
    for (const auto& p : l->lower) {
      if (p == dir) return true;
    }
  }
  return false;
}

void Jails::recover(std::function<void()> done_jails) {
  // Last, the networks: the host's bridges, links and rules made those of the jails that live
  // on, then the leases of the dead ones freed (Networks::recover), their links handed back.
  auto done = [this, done_jails = std::move(done_jails)] {
    std::vector<std::string> ids;
    for (const auto& [id, l] : live_) ids.push_back(id);
    auto links = d_.networks->recover(ids);
    if (!links) {
      lg()->error("recovery: networks: {}", links.error().what());
    } else {
      for (auto& [id, ls] : *links) {
        auto it = live_.find(id);
        if (it == live_.end()) continue;
        for (auto& link : ls) it->second->networks.push_back(link.network().name);
        it->second->links = std::move(ls);
      }
    }
    done_jails();
  };
  auto rows = d_.idx.list_jails_in_flight();
  if (!rows) {
    lg()->error("recovery: listing jails: {}", rows.error().what());
    return done();
  }
  // What is left of a jail that did not survive is released on the blocking pool (killing and
  // waiting for processes, removing cgroups), all at once; the loop meanwhile answers 503.
  auto pending = std::make_shared<std::size_t>(1);
  auto one_done = [pending, done = std::move(done)] {
    if (--*pending == 0) done();
  };
  // Status files of jails whose end is already recorded: ljd died after recording the exit and
  // before the teardown was done (Jails::teardown). Released by name, then removed. Those of
  // jails in flight are read below (settle).
  std::set<std::string> handled;  // jail names released or adopted below
  {
    std::set<std::string> in_flight;
    for (const JailRow& row : *rows) {
      in_flight.insert(row.id + ".status");
      handled.insert(row.id);
    }
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(d_.cfg.root / ".ljd" / "run", ec)) {
      const std::string name = e.path().filename().string();
      if (!name.ends_with(".status") || in_flight.count(name)) continue;
      handled.insert(e.path().stem().string());
      ++*pending;
      release_leftover(e.path(), one_done);
    }
  }
  // Jails of this root that the kernel holds and no record names (the index was deleted or
  // replaced, by hand, while they ran; or .ljd/run was emptied): found in the backend's scope,
  // killed and released by name, so that nothing outlives every record of it.
  if (d_.backend) {
    for (const std::string& name : d_.backend->present()) {
      if (handled.count(name)) continue;
      ++*pending;
      release_unknown(name, one_done);
    }
  }
  for (JailRow& row : *rows) {
    jail::JailHandle h;
    h.name = row.id;
    h.status_file = status_path(row.id);
    const bool had_process = row.state == JailState::running || row.state == JailState::stopping;
    if (had_process) {
      // Only a recorded handle names a process of this jail: creating/created rows have none.
      h.pid = static_cast<pid_t>(row.pid);
      h.start_time = row.start_time;
      h.cgroup = row.cgroup;
      h.jid = static_cast<int>(row.jid);
    }
    if (had_process && d_.backend) {
      auto adopted = d_.backend->adopt(h);
      if (adopted) {
        auto& l = live_[row.id];
        l = std::make_unique<Live>();
        l->id = row.id;
        l->jail = std::move(*adopted);
        l->log = std::make_unique<RecordLog>(log_path(row.id));
        auto doc = json::parse(row.spec, nullptr, false);
        if (auto req = decode_create(doc, d_.cfg, nullptr)) {
          if (auto layers = resolve_layers(*req)) l->lower = std::move(*layers);
        }
        auto doc_tty = doc.is_object() && doc.value("tty", false);
        if (auto [out, err] = l->jail->take_output(); out && (err || doc_tty)) {
          // A terminal: the master init held (init_abi.h), read as stdout; resizes go to it.
          if (doc_tty) l->terminal.reset(::fcntl(out.get(), F_DUPFD_CLOEXEC, 0));
          if (doc_tty && doc.value("stdin", false) && l->terminal)
            l->input.reset(::fcntl(l->terminal.get(), F_DUPFD_CLOEXEC, 0));
          read_output(*l, std::move(out), std::move(err));
        }
        supervise(*l);
        ++d_.recovery.adopted;
        lg()->info("recovery: re-adopted jail={} pid={}", row.id, row.pid);
        continue;
      }
      if (adopted.error().errc() != Errc::not_found) {
        lg()->warn("recovery: adopting jail={}: {}", row.id, adopted.error().what());
      }
    }
    ++*pending;
    jail::Backend* backend = d_.backend.get();
    d_.loop.blocking([this, backend, h, row = std::move(row), one_done]() mutable {
      Status released;
      if (backend) released = backend->release(h);
      d_.loop.post([this, row = std::move(row), released = std::move(released), one_done] {
        if (!released) {
          lg()->warn("recovery: releasing jail={}: {}", row.id, released.error().what());
        }
        settle(row);
        crash_point("recover.after_settle");
        one_done();
      });
    });
  }
  one_done();
}

// A jail whose exit is recorded but whose teardown may not have finished: whatever of it is left
// (processes, cgroups, the FreeBSD jail and its mounts) is found by its name and status file
// alone and released on the blocking pool; then its status file goes.
void Jails::release_leftover(const std::filesystem::path& status_file, std::function<void()> done) {
  jail::JailHandle h;
  h.name = status_file.stem().string();
  h.status_file = status_file.string();
  jail::Backend* backend = d_.backend.get();
  d_.loop.blocking([this, backend, h, done = std::move(done)] {
    Status released;
    if (backend) released = backend->release(h);
    d_.loop.post([this, h, released = std::move(released), done] {
      if (!released) {
        // Kept: the next start tries again.
        lg()->warn("recovery: releasing ended jail={}: {}", h.name, released.error().what());
        return done();
      }
      // Its end is recorded, unless the index that recorded it was lost: then the status file
      // is the last word on it, and is said here rather than dropped silently.
      if (auto row = d_.idx.get_jail(h.name); !row && row.error().errc() == Errc::not_found) {
        auto rec = exit_from_status_file(h.status_file);
        lg()->error("recovery: jail={} is unknown to the index (lost or replaced while it ran); "
                    "its status file says: {}",
                    h.name,
                    !rec ? std::string("nothing (it was killed)")
                    : rec->exit_signal ? "killed by signal " + std::to_string(*rec->exit_signal)
                                       : "exit code " + std::to_string(rec->exit_code.value_or(-1)));
        ++d_.recovery.unknown_released;
      }
      ::unlink(h.status_file.c_str());
      done();
    });
  });
}

void Jails::release_unknown(const std::string& name, std::function<void()> done) {
  jail::JailHandle h;
  h.name = name;
  h.status_file = status_path(name);
  jail::Backend* backend = d_.backend.get();
  d_.loop.blocking([this, backend, h, done = std::move(done)] {
    Status released = backend->release(h);
    d_.loop.post([this, h, released = std::move(released), done] {
      if (!released) {
        lg()->error("recovery: releasing jail={}, unknown to the index: {}", h.name,
                    released.error().what());
      } else {
        ++d_.recovery.unknown_released;
        lg()->warn("recovery: jail={} is unknown to the index (lost or replaced while it ran): "
                   "killed and released",
                   h.name);
      }
      done();
    });
  });
}

// The index side of a jail that did not survive ljd, once whatever it left was released.
void Jails::settle(const JailRow& row) {
  const std::string status = status_path(row.id);
  if (row.state == JailState::creating) {
    // Never visible (no event was published for it) and never answered: roll the create back.
    ::unlink(status.c_str());
    ::unlink(log_path(row.id).c_str());
    if (auto st = d_.idx.delete_jail(row.id); !st) {
      lg()->error("recovery: deleting jail={} caught in create: {}", row.id, st.error().what());
      return;
    }
    ++d_.recovery.discarded;
    lg()->info("recovery: jail={} was being created; rolled back", row.id);
    return;
  }
  if (row.state == JailState::created) {
    // A start may have been under way: whatever it spawned is gone now; the jail can start again.
    ::unlink(status.c_str());
    ++d_.recovery.reset;
    return;
  }
  index::ExitRecord rec;
  if (auto from_file = exit_from_status_file(status)) {
    rec = *from_file;
  } else {
    rec.lost = true;
  }
  if (auto ev = d_.emit(d_.idx.transition(row.id, index::JailState::exited, rec)); !ev) {
    lg()->error("recovery: recording the exit of jail={}: {}", row.id, ev.error().what());
    return;
  }
  ::unlink(status.c_str());
  ++(rec.lost ? d_.recovery.lost : d_.recovery.ended);
  lg()->info("recovery: jail={} ended while ljd was down ({})", row.id,
             rec.lost ? "lost" : "status file");
  if (row.auto_remove)
    (void)d_.emit(d_.idx.transition(row.id, index::JailState::removed, {}, std::nullopt));
}

void Jails::shutdown(bool stop_jails, std::function<void()> done) {
  for (auto& [id, fs] : followers_) {
    for (auto& f : fs) f.w->end();
  }
  followers_.clear();
  for (auto& [id, l] : live_) {
    if (l->log) {
      l->log->end_followers(R"({"type":"end","state":"unknown","reason":"ljd is shutting down"})");
    }
    if (l->attached) l->attached->end(R"({"type":"end","state":"unknown"})");
  }
  if (!stop_jails) {
    // Leave them running: their Jail objects are kept forever (their destructors kill), and the
    // next ljd re-adopts them. Their output pipes close with us.
    for (auto& [id, l] : live_) {
      if (l->jail) keep_forever(std::move(l->jail));
      for (auto& link : l->links) link.release();  // the next ljd re-adopts them (recover)
      l->exit_watch.reset();
    }
    live_.clear();
    return done();
  }
  // Exits the index still refuses: their status files stay, and the next ljd's recovery records
  // them (the rows still say running).
  for (auto it = live_.begin(); it != live_.end();) {
    if (it->second->pending_exit) {
      lg()->warn("jail={} exit not recorded at shutdown; the next ljd records it from {}",
                 it->first, status_path(it->first));
      it = live_.erase(it);
    } else {
      ++it;
    }
  }
  if (live_.empty()) return done();
  on_empty_ = std::move(done);
  for (auto& [id, l] : live_) {
    if (!l->jail) continue;
    auto row = d_.idx.get_jail(id);
    (void)l->jail->signal(row ? stop_signal_of(row->spec) : SIGTERM, false);
    std::string jid = id;
    l->kill_timer = d_.loop.after(d_.cfg.stop_timeout, [this, jid] {
      auto it = live_.find(jid);
      if (it != live_.end() && it->second->jail) (void)it->second->jail->signal(SIGKILL, true);
    });
  }
}

}  // namespace lj::daemon
