// The jail service: lifecycles on the event loop. Owned by the loop thread, like everything it
// holds: the table of live jails (the Jail objects, their pidfd watches, deadline timers, output
// pipes), the waiters and the log followers. The index row is the truth about a jail's state; it
// is written (with its event, in one transaction) before anybody is told.
//
// A jail's life here: create (row `creating`, then `created`, or straight to `running` with
// start) -> spawn on the blocking pool -> row `running` -> the pidfd turns readable -> poll() on
// the loop thread reaps -> row `exited` with the exit record, its event -> teardown() on the
// blocking pool (cgroups, mounts, jail_remove: it may take seconds, and the loop serves others
// meanwhile) -> the output pipes reach EOF -> waiters answered, log followers get the `end`
// record -> auto_remove marks the row `removed`. A ljd killed between the exit record and the end
// of the teardown leaves the jail's status file behind: recovery releases what it names.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "daemon/attach.hpp"
#include "daemon/core.hpp"
#include "daemon/http_types.hpp"
#include "daemon/jail_request.hpp"

namespace lj::daemon {

class RecordLog;

using Uid = std::optional<std::uint32_t>;
using RowDone = std::function<void(Result<index::JailRow>)>;

struct WaitResult {
  index::JailRow row;
  bool timed_out = false;  // the wait's own timeout passed before the jail ended
};

class Jails {
 public:
  explicit Jails(Daemon& d);
  ~Jails();

  // Validated request -> row -> (start). `done` gets the row as it then is.
  void create(CreateJail req, bool start, Uid uid, RowDone done);
  void start(std::string_view id, Uid uid, RowDone done);
  // Sends `sig` (0: the jail's stop_signal, else SIGTERM) to the main command, then SIGKILL to the
  // whole jail after `timeout`; answers once the exit is recorded.
  void stop(std::string_view id, int sig, std::chrono::milliseconds timeout, Uid uid, RowDone done);
  Result<index::JailRow> kill(std::string_view id, int sig, Uid uid);
  // Answers at once from the record when the jail has ended (also after it was removed, within
  // retention); else when it ends or when `timeout` passes (nullopt: no timeout).
  void wait(std::string_view id, std::optional<std::chrono::milliseconds> timeout,
            std::function<void(Result<WaitResult>)> done);
  // Marks the row removed; a live jail is refused (conflict) unless force, which kills it first.
  void remove(std::string_view id, bool force, Uid uid, RowDone done);

  Result<index::JailRow> get(std::string_view id_or_name);
  Result<std::vector<index::JailRow>> list(const index::JailFilter& filter);

  // The chain of a request on a world or an overlay (not an image): the overlay's highest version
  // satisfying the constraint, down to its world or image (Catalog::resolve). What a jail stacks,
  // and what it declares (Chain::privileges).
  Result<overlay::Chain> resolve_chain(const CreateJail& req);

  // Streams the records with seq > after; with follow, the live ones too, then the `end` record
  // once the jail has ended. `id` must be a resolved id (get() first).
  void logs(const index::JailRow& row, std::uint64_t after, bool follow,
            std::shared_ptr<StreamWriter> w);

  // Interactive jails (docs/attach.md). The terminal's window size (spec tty): conflict when the
  // jail is not running or has no terminal.
  Status resize(std::string_view id, unsigned short rows, unsigned short cols);
  // A plain attach (no upgrade): `w` follows a running jail's log from now on (then its end
  // record), as a log follower (lagged past stream_backlog_bytes behind). With from_start, the
  // output stored so far comes first (a `run` that attaches just after the start misses nothing).
  Status attach(std::string_view id, std::shared_ptr<StreamWriter> w, bool from_start = false);
  // An upgraded attach: `make` gets a duplicate of where the jail's input goes (empty without
  // stdin), whether it has a terminal, and what to replay first (from_start: the log so far), and
  // returns the client's sink, which then gets the jail's output as bytes, as read (with
  // from_start, the unfinished lines not logged yet first), and paces it (attach.hpp).
  using MakeSink =
      std::function<std::shared_ptr<OutputSink>(UniqueFd input, bool tty, Replay replay)>;
  Status attach_stdio(std::string_view id, bool from_start, const MakeSink& make);
  // An attached client ended its input: the jail's stdin pipe closes (a terminal stays open).
  void close_stdin(const std::string& id);

  // Start-up reconciliation: re-adopt live jails, record the exits of dead ones, release leftovers.
  void recover(std::function<void()> done);
  // Shutdown: stop (TERM, then KILL after stop_timeout) or leave running jails, then done().
  void shutdown(bool stop_jails, std::function<void()> done);

  std::size_t live() const { return live_.size(); }
  // True when a live jail's root stacks `dir` (a world directory or an overlay layer).
  bool uses(const std::filesystem::path& dir) const;

 private:
  struct Live;
  void spawn(std::string id, CreateJail req, std::vector<std::filesystem::path> layers, bool fresh,
             Uid uid, RowDone done);
  void abandon_start(const std::string& id, bool fresh, Error e, const RowDone& done);
  void settle(const index::JailRow& row);  // recovery of a jail that did not survive ljd
  void read_output(Live& l, UniqueFd out, UniqueFd err);
  void supervise(Live& l);
  void on_exit_ready(const std::string& id);
  void on_reaped(const std::string& id, Result<std::optional<jail::ExitStatus>> st);
  void teardown(Live& l);
  void on_torn_down(const std::string& id, const Status& st);
  void release_leftover(const std::filesystem::path& status_file, std::function<void()> done);
  // Recovery of a jail the backend holds (Backend::present) that no row or status file names.
  void release_unknown(const std::string& name, std::function<void()> done);
  void on_output(Live& l, int stream, std::string_view data);
  void on_output_eof(const std::string& id);
  void maybe_finish(const std::string& id);
  // Records l's pending exit; false (logged, counted, status file kept) when the index refused.
  bool try_record_exit(Live& l);
  // Tries again after a backoff until the record commits (or the error is not transient).
  void retry_record_exit(const std::string& id);
  void finish(Live& l);
  void append_log(Live& l, int stream, std::string_view data);
  RecordLog& log_of(Live& l);
  void answer_waiters(const index::JailRow& row);
  void end_followers(const index::JailRow& row);
  Result<std::vector<std::filesystem::path>> resolve_layers(const CreateJail& req);
  // publish_all: host ports for `wanted` (host_ports.hpp) added to req.net.ports; a jail on no
  // network joins the default one.
  Status publish_exposed(CreateJail& req, const std::vector<ExposedPort>& wanted);
  std::string log_path(const std::string& id) const;
  std::string status_path(const std::string& id) const;

  struct Waiter {
    std::function<void(Result<WaitResult>)> done;
    std::unique_ptr<Watch> timer;
  };
  struct Follower {
    std::shared_ptr<StreamWriter> w;
    std::uint64_t after;
  };

  Daemon& d_;
  std::map<std::string, std::unique_ptr<Live>> live_;               // by id; loop thread
  std::map<std::string, std::map<std::uint64_t, Waiter>> waiters_;  // by id; loop thread
  std::map<std::string, std::vector<Follower>> followers_;          // by id; loop thread
  std::uint64_t next_waiter_ = 1;
  std::function<void()> on_empty_;     // shutdown's continuation, once live_ is empty
  std::unique_ptr<Watch> trim_timer_;  // release_free_memory once idle (finish)
  std::uint32_t next_host_port_ = 0;   // publish_exposed's round-robin cursor; loop thread
};

}  // namespace lj::daemon
