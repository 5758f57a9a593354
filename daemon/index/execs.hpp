// Exec sessions (issue 13): the execs table (migration 005), its lifecycle and rows. Private to
// lj_index but for ExecRow, ExecState and kExecs, which the Index facade's callers use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "index/rows.hpp"
#include "index/states.hpp"

namespace lj::index {

class Db;

enum class ExecState { created, running, exited };

inline constexpr StateDef<ExecState> kExecStates[] = {
    {ExecState::created, "created", "", next_of(ExecState::running),
     "created, not started (a start once its jail has ended is refused: conflict)"},
    {ExecState::running, "running", "exec.started", next_of(ExecState::exited),
     "its process runs in the jail; pid and start_time name its monitor"},
    {ExecState::exited, "exited", "exec.exited", next_of(),
     "ended; the exit record is kept with the jail's row"},
};
inline constexpr Lifecycle<ExecState> kExecs{"exec",           "execs",    "id", "jail_id",
                                             ExecState::created, kExecStates};
static_assert(in_enum_order(kExecs));

constexpr std::string_view to_string(ExecState s) { return kExecs.def(s).name; }

struct ExecRow {
  std::string id;  // "x-xxxxxxxx"; generated when empty
  std::string jail_id;
  std::string spec;  // JSON text of the create request
  ExecState state = ExecState::created;
  std::uint32_t owner_uid = 0;
  std::int64_t pid = 0;  // the monitor's
  std::uint64_t start_time = 0;
  Time created_at{};
  std::optional<Time> started_at;
  std::optional<Time> exited_at;
  std::optional<int> exit_code;
  std::optional<int> exit_signal;
  bool lost = false;
};

// transition(id, ExecState::running, handle) or (id, ExecState::exited, exit).
struct ExecChange {
  ExecChange() = default;
  ExecChange(ProcessHandle h) : handle(std::move(h)) {}  // NOLINT: implicit on purpose
  ExecChange(const ExitRecord& e) : exit(e) {}           // NOLINT: implicit on purpose
  ProcessHandle handle;
  ExitRecord exit;
};

namespace execs {

// Inserts in state created; no event (exec.started is the first). conflict unless the jail's row
// is running, in the same transaction; not_found without it.
Result<ExecRow> insert(Db& db, ExecRow row);
Result<EventRow> transition(Db& db, std::string_view id, ExecState to, const ExecChange& with,
                            std::optional<std::uint32_t> uid);
Result<ExecRow> get(Db& db, std::string_view id);
// One jail's, oldest first; or every exec in state `state` (recovery: running) with jail_id empty.
Result<std::vector<ExecRow>> list(Db& db, std::string_view jail_id,
                                  std::optional<ExecState> state = std::nullopt);

}  // namespace execs
}  // namespace lj::index
