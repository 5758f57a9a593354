// Private to lj_index: the builds table. The Index facade documents the contract of each call.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "index/rows.hpp"

namespace lj::index {
class Db;
}

namespace lj::index::builds {

Result<std::pair<BuildRow, EventRow>> insert(Db& db, BuildRow row,
                                             std::optional<std::uint32_t> uid);
Result<EventRow> transition(Db& db, std::string_view id, BuildState to, const BuildRow& result,
                            std::optional<std::uint32_t> uid);
Result<BuildRow> get(Db& db, std::string_view id);
// Every build, or those in one of `states` (empty: all); by created_at.
Result<std::vector<BuildRow>> list(Db& db, std::vector<BuildState> states);

}  // namespace lj::index::builds
