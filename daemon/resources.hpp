// Worlds, overlays and builds: the long work of the daemon, as persisted resources with a state,
// an error and /wait (never a vanishing operation). Owned by the loop thread like Jails; imports
// and builds run on the long-work pool and post their progress and results back.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "daemon/core.hpp"
#include "daemon/http_types.hpp"
#include "daemon/ndjson_log.hpp"

namespace lj::daemon {

using Uid = std::optional<std::uint32_t>;
using JsonDone = std::function<void(Result<nlohmann::json>)>;

struct BuildSubmit {
  std::string context;   // a directory holding a Jailfile (absolute)
  std::string jailfile;  // or the Jailfile's text (then its directory is an empty context)
  bool force = false;
  jail::Limits limits;
};

class Resources {
 public:
  explicit Resources(Daemon& d);
  ~Resources();

  // ---- worlds: the catalog's directories, plus the index rows of imports ----
  // Registers the import (state importing, 202) and runs it on the long-work pool.
  void import_world(const std::string& name, const std::string& source, Uid uid, JsonDone done);
  Result<nlohmann::json> world(std::string_view name);
  Result<nlohmann::json> worlds();
  // {"world": ..., "timed_out": bool} once the import has ended (at once when it has).
  void wait_world(const std::string& name, std::optional<std::chrono::milliseconds> timeout,
                  JsonDone done);
  // 409 while importing, while a live jail stacks it, or while an overlay is built on it.
  Result<nlohmann::json> remove_world(const std::string& name, Uid uid);

  // ---- overlays: the catalog's published versions ----
  Result<nlohmann::json> overlays(std::string_view name_filter);
  Result<nlohmann::json> overlay(const std::string& name, const std::string& version);
  // 409 while a live jail stacks it or a child overlay names it as parent.
  Result<nlohmann::json> remove_overlay(const std::string& name, const std::string& version,
                                        Uid uid);

  // ---- builds ----
  void submit_build(BuildSubmit req, Uid uid, JsonDone done);
  Result<nlohmann::json> build(std::string_view id);
  Result<nlohmann::json> builds(std::optional<index::BuildState> state);
  void wait_build(const std::string& id, std::optional<std::chrono::milliseconds> timeout,
                  JsonDone done);
  // Output records {seq, data, time}; with follow, live, then an `end` record with the result.
  Status build_logs(const std::string& id, std::uint64_t after, bool follow,
                    std::shared_ptr<StreamWriter> w);

  // Start-up reconciliation, then done(): an import or build that got as far as its rename
  // (world directory, published overlay) is recorded as finished, any other in flight is marked
  // failed; overlay rows whose directory is gone are removed; staging leftovers are removed.
  void recover(std::function<void()> done);
  void shutdown();

 private:
  struct Import;
  struct Running;
  void finish_import(const std::string& name, Result<std::uint64_t> bytes, Uid uid);
  void finish_build(const std::string& id, Result<nlohmann::json> result, Uid uid);
  void build_line(const std::string& id, std::string_view line);
  std::string build_records_path(std::string_view id) const;
  Result<nlohmann::json> world_json_of(const std::string& name);
  Result<nlohmann::json> build_json_of(std::string_view id);

  struct Waiter {
    JsonDone done;
    std::unique_ptr<Watch> timer;
  };
  void add_waiter(std::map<std::string, std::map<std::uint64_t, Waiter>>& table,
                  const std::string& key, std::optional<std::chrono::milliseconds> timeout,
                  JsonDone done, std::function<Result<nlohmann::json>()> current);
  void answer(std::map<std::string, std::map<std::uint64_t, Waiter>>& table, const std::string& key,
              const Result<nlohmann::json>& value);

  Daemon& d_;
  std::map<std::string, std::unique_ptr<Import>> imports_;   // by world name; loop thread
  std::map<std::string, std::unique_ptr<Running>> running_;  // by build id; loop thread
  std::map<std::string, std::map<std::uint64_t, Waiter>> world_waiters_, build_waiters_;
  std::uint64_t next_waiter_ = 1;
};

}  // namespace lj::daemon
