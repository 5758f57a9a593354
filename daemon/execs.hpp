// Exec sessions (issue 13, docs/attach.md): one more command in a running jail, as a persisted
// resource. Owned by the loop thread, like Jails: the table of live execs (the jail::Exec, its
// watches, the writer its output goes to) and the waiters.
//
// An exec's life: create (row `created`; the jail must be running) -> start, once: the engine's
// Backend::exec on the blocking pool -> row `running` (its monitor's pid and start time), event
// exec.started -> output read on the loop into the attached writer (or discarded) -> the monitor's
// pidfd turns readable and the output reaches EOF -> row `exited` with the exit record, event
// exec.exited -> the writer's end record, waiters answered. The exit is durable: the monitor also
// writes it to <root>/.ljd/run/exec/<id>.status, which recovery reads when ljd died meanwhile (or
// re-adopts a monitor still running). An exec ends with its jail (the kernel kills it).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "daemon/attach.hpp"
#include "daemon/core.hpp"
#include "daemon/http_types.hpp"

namespace lj::daemon {

// The body of POST /v1/jails/{id}/exec (proto/openapi.yaml, ExecCreate).
struct ExecRequest {
  std::vector<std::string> cmd;
  std::map<std::string, std::string> env;
  std::string user;
  std::string workdir = "/";
  bool tty = false;
  bool stdin_open = false;
  unsigned short tty_rows = 0, tty_cols = 0;
};
// On a field error, *field names it.
Result<ExecRequest> decode_exec(const nlohmann::json& body, std::string* field);
nlohmann::json encode_exec(const ExecRequest& r);
// An exec row on the wire (the Exec schema).
nlohmann::json exec_json(const index::ExecRow& row);

class Execs {
 public:
  explicit Execs(Daemon& d);
  ~Execs();

  // A created exec in the running jail `jail_id_or_name`. conflict when it is not running.
  Result<index::ExecRow> create(std::string_view jail_id_or_name, ExecRequest req,
                                std::optional<std::uint32_t> uid);
  Result<index::ExecRow> get(std::string_view id);
  Result<std::vector<index::ExecRow>> list(std::string_view jail_id_or_name);
  // Whether `id` can be started now (created, not being started, its jail running): the
  // route checks before it answers 101.
  Status startable(std::string_view id);

  // Starts a created exec. Its output goes to `sink` as bytes, as read, paced by it (attach.hpp),
  // then the end record ({"type":"end","state","exit"}), after the exit is recorded; null:
  // discarded.
  // `done` gets, once the process runs, a descriptor for the client's input (its stdin pipe's
  // write end, the only one, or a duplicate of the terminal's master; empty without stdin) and
  // whether it has a terminal; or the error (the row then stays `created`).
  struct Started {
    UniqueFd input;
    bool tty = false;
    index::ExecRow row;
  };
  void start(std::string_view id, std::shared_ptr<OutputSink> sink,
             std::optional<std::uint32_t> uid, std::function<void(Result<Started>)> done);
  Status resize(std::string_view id, unsigned short rows, unsigned short cols);
  // The row once the exec has ended, at once when it has; with a timeout, the running row when it
  // passes first. conflict for an exec never started.
  void wait(std::string_view id, std::optional<std::chrono::milliseconds> timeout,
            std::function<void(Result<index::ExecRow>)> done);

  // Start-up: re-adopt running execs whose monitor lives, record the exits of the others from
  // their status files (lost without one).
  void recover();

 private:
  struct Live;
  void on_exit_ready(const std::string& id);
  void maybe_finish(const std::string& id);
  std::string status_path(const std::string& id) const;
  void answer_waiters(const index::ExecRow& row);

  struct Waiter {
    std::function<void(Result<index::ExecRow>)> done;
    std::unique_ptr<Watch> timer;
  };

  Daemon& d_;
  std::map<std::string, std::unique_ptr<Live>> live_;  // by exec id; loop thread
  std::map<std::string, std::map<std::uint64_t, Waiter>> waiters_;  // by exec id; loop thread
  std::uint64_t next_waiter_ = 1;
};

}  // namespace lj::daemon
