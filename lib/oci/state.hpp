// A container's state as ljoci keeps it, in files under --root (no daemon, no SQLite), side by
// side rather than in a directory per container: on a file system that discards what it frees
// synchronously (ext4 mounted `discard` without a journal, as on the benchmark's host) a
// directory's block costs ~4 ms at its removal, a quarter of a whole `run` (docs/oci.md,
// Benchmark); a small file removed before its write-back never gets a block at all.
//   <root>/<id>.json    what `state` and every later command need (below), written atomically
//   <root>/<id>.fifo    while the container is created and not started: `start` writes its byte;
//                       made first, exclusively: it claims the id
//   <root>/<id>.paused  while paused
//   <root>/<id>.exit    FreeBSD: how the process ended ("exited N"), by ljoci's exit watcher
// Each name is the id and a suffix of its own, so no two ids' files meet.
// The status is derived, never stored: the process gone -> stopped; the fifo there -> created;
// else running.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "jail/backend.hpp"

namespace lj::oci {

struct ContainerState {
  std::string id;
  std::string oci_version;
  std::filesystem::path bundle;
  jail::JailHandle handle;  // name, pid, start time, cgroups, status file
  std::string created;      // RFC 3339
  std::map<std::string, std::string> annotations;
  std::string config;  // the config.json text as read at create (hooks of delete and start)
};

enum class Status { creating, created, running, paused, stopped };
const char* status_name(Status s);

// Container ids: [A-Za-z0-9_.-], 1-64 characters (the engine's jail names).
lj::Status check_id(const std::string& id);

class StateDir {
 public:
  explicit StateDir(std::filesystem::path root) : root_(std::move(root)) {}
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path state_file(const std::string& id) const { return file(id, ".json"); }
  std::filesystem::path fifo(const std::string& id) const { return file(id, ".fifo"); }
  std::filesystem::path exit_file(const std::string& id) const { return file(id, ".exit"); }
  // Present while the container is paused (made by pause before the freeze, removed by resume
  // after the thaw).
  std::filesystem::path paused_mark(const std::string& id) const { return file(id, ".paused"); }

  // Claims the id: makes <root> and the id's exec.fifo (mkfifo: exclusive); Errc::exists when a
  // container of that id is there (its fifo while created, its state after).
  lj::Status make(const std::string& id) const;
  lj::Status save(const ContainerState& s) const;
  Result<ContainerState> load(const std::string& id) const;
  std::vector<std::string> ids() const;
  void remove(const std::string& id) const;

  // The live status of a saved container.
  Status status(const ContainerState& s) const;

 private:
  std::filesystem::path file(const std::string& id, const char* suffix) const {
    return root_ / (id + suffix);
  }
  std::filesystem::path root_;
};

// Whether process `pid` runs, started at `start_time` (JailHandle::start_time: Linux's
// /proc/PID/stat field 22, FreeBSD's ki_start in microseconds), and is not a zombie.
// lib/oci/<platform>/platform.cpp.
bool process_lives(pid_t pid, std::uint64_t start_time);

// The status file the engine is given (jail::JailSpec::status_file), "" for none. FreeBSD: the
// exit file (StateDir::exit_file). Linux: none. On both the container's process is the command
// itself, as runc's (Linux: jail::ProcessOptions::command_is_init; there is no lj-init to write a
// file), and its status goes to its reaper (conmon, the shim, `run`'s own wait).
std::string engine_status_file(const StateDir& sd, const std::string& id);

// After `create`: makes sure the container's exit file gets "exited N" / "killed N" once its
// process ends, whoever reaps it. Linux: nothing (no exit file). FreeBSD (the process is its
// reaper's child alone): an exit watcher of ljoci's own (lib/oci/freebsd/platform.cpp). Returns
// once the watch is in place, so that no end after `create` returns can be missed.
lj::Status watch_exit(const ContainerState& s);

// The processes of a container, for `ps`: Linux, its cgroup's cgroup.procs; FreeBSD, every live
// process of its jail (by name; none once the jail is gone).
Result<std::vector<pid_t>> container_pids(const ContainerState& s);
// The arguments `ps` gives ps(1) when its caller gives none: runc's "-ef" on Linux; FreeBSD's ps
// has no -f, so its own columns there, the jail's id among them.
const char* default_ps_args();

// The JSON `ljoci state` prints (runc's: ociVersion, id, status, pid, bundle, annotations, and
// runc's extra rootfs/created/owner for `list --format json`).
std::string state_json(const ContainerState& s, Status st, bool for_list = false);

}  // namespace lj::oci
