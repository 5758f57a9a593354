// The lifecycles of the index's resources: for each, one table of states (a comment each, the
// event a transition into it publishes, the states it may go to next) in the manner of FreeBSD's
// usr.sbin/jail state flags (jailp.h: one flag per state, each with its comment). The index's one
// transition function (Db::transition, db.hpp) reads these tables: a change that is not listed is
// refused as conflict ("jail j-1234: running -> creating is not a transition").
//
// Adding a resource's lifecycle: an enum, a kStates table in enum order, one Lifecycle constant
// naming its table and key column, and a to_string/…_state_from pair below. The SQL table's CHECK
// constraint on `state` lists the same names (migrations/).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace lj::index {

// One state of a lifecycle. `next` is the set of states it may go to, as bits (1 << state).
template <class S>
struct StateDef {
  S state;
  std::string_view name;   // stored in the `state` column and sent on the wire
  std::string_view event;  // the event a transition into this state publishes; empty: none
  std::uint32_t next;      // the states this one may go to (next_of(...))
  std::string_view comment;
};

template <class... S>
constexpr std::uint32_t next_of(S... s) {
  return (0u | ... | (1u << static_cast<unsigned>(s)));
}

// A resource's lifecycle: its table of states and where its rows live.
template <class S>
struct Lifecycle {
  std::string_view noun;   // "jail": errors and event names say it
  std::string_view table;  // the SQL table
  std::string_view key;    // the column that names a row ("id" or "name")
  // A column read with the state and put into every transition's event data under its own name
  // (jails: "name", which the key does not tell); empty: none.
  std::string_view label;
  S initial;                            // the state a row is inserted in
  std::span<const StateDef<S>> states;  // in enum order: states[s].state == s

  constexpr const StateDef<S>& def(S s) const { return states[static_cast<std::size_t>(s)]; }
  constexpr bool allows(S from, S to) const {
    return (def(from).next >> static_cast<unsigned>(to) & 1u) != 0;
  }
  constexpr std::optional<S> from_name(std::string_view name) const {
    for (const auto& d : states) {
      if (d.name == name) return d.state;
    }
    return std::nullopt;
  }
};

// ---- jails ----

enum class JailState { creating, created, running, stopping, exited, removed };

inline constexpr StateDef<JailState> kJailStates[] = {
    {JailState::creating, "creating", "",
     next_of(JailState::created, JailState::running, JailState::exited, JailState::removed),
     "row written, root being assembled; not announced (no event): a create that fails is "
     "deleted outright, and recovery rolls it back"},
    {JailState::created, "created", "jail.created",
     next_of(JailState::running, JailState::exited, JailState::removed),
     "assembled and ready to start (created without start=true, or a start that failed)"},
    {JailState::running, "running", "jail.started",
     next_of(JailState::stopping, JailState::exited, JailState::removed),
     "its process lives; the handle (pid + start time, cgroup, jid) is recorded for recovery"},
    {JailState::stopping, "stopping", "jail.stopping",
     next_of(JailState::exited, JailState::removed),
     "a stop was requested: the signal is sent, the exit not yet reaped"},
    {JailState::exited, "exited", "jail.exited", next_of(JailState::removed),
     "the process tree is gone and its exit record (code, signal, oom, timed_out, lost) written"},
    {JailState::removed, "removed", "jail.removed", next_of(),
     "deleted by the user or auto_remove; kept as a record until retention purges it, its name "
     "free again at once"},
};

inline constexpr Lifecycle<JailState> kJails{"jail",     "jails", "id", "name", JailState::creating,
                                             kJailStates};

// ---- builds ----

enum class BuildState { queued, running, succeeded, failed, cancelled };

inline constexpr StateDef<BuildState> kBuildStates[] = {
    {BuildState::queued, "queued", "build.queued",
     next_of(BuildState::running, BuildState::succeeded, BuildState::failed, BuildState::cancelled),
     "accepted and recorded; waits for a build slot (it may end before it runs: cancelled, or "
     "failed by recovery)"},
    {BuildState::running, "running", "build.started",
     next_of(BuildState::succeeded, BuildState::failed, BuildState::cancelled),
     "its build jail runs the Jailfile into a staging layer"},
    {BuildState::succeeded, "succeeded", "build.succeeded", next_of(),
     "the overlay is published (or was already: cache_hit)"},
    {BuildState::failed, "failed", "build.failed", next_of(),
     "nothing was published; `error` says why"},
    {BuildState::cancelled, "cancelled", "build.cancelled", next_of(),
     "stopped on request; nothing was published"},
};

inline constexpr Lifecycle<BuildState> kBuilds{"build", "builds",           "id",
                                               "",      BuildState::queued, kBuildStates};

// ---- world imports ----

enum class WorldState { importing, ready, failed };

inline constexpr StateDef<WorldState> kWorldStates[] = {
    {WorldState::importing, "importing", "world.importing",
     next_of(WorldState::ready, WorldState::failed),
     "being copied or unpacked into root/.staging, then renamed into root/worlds"},
    {WorldState::ready, "ready", "world.ready", next_of(),
     "in place under root/worlds and usable by jails and builds"},
    {WorldState::failed, "failed", "world.failed", next_of(),
     "the import failed, its staging copy removed; `error` says why. A new import of the same "
     "name deletes this row first"},
};

inline constexpr Lifecycle<WorldState> kWorlds{
    "world", "worlds", "name", "", WorldState::importing, kWorldStates};

// ---- names ----

constexpr std::string_view to_string(JailState s) {
  return kJails.def(s).name;
}
constexpr std::string_view to_string(BuildState s) {
  return kBuilds.def(s).name;
}
constexpr std::string_view to_string(WorldState s) {
  return kWorlds.def(s).name;
}
constexpr std::optional<JailState> jail_state_from(std::string_view s) {
  return kJails.from_name(s);
}
constexpr std::optional<BuildState> build_state_from(std::string_view s) {
  return kBuilds.from_name(s);
}
constexpr std::optional<WorldState> world_state_from(std::string_view s) {
  return kWorlds.from_name(s);
}

// The tables are in enum order (def() indexes them by the enum).
template <class S>
constexpr bool in_enum_order(const Lifecycle<S>& lc) {
  for (std::size_t i = 0; i < lc.states.size(); ++i) {
    if (static_cast<std::size_t>(lc.states[i].state) != i) return false;
  }
  return true;
}
static_assert(in_enum_order(kJails) && in_enum_order(kBuilds) && in_enum_order(kWorlds));

}  // namespace lj::index
