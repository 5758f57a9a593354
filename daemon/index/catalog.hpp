// Private to lj_index: the catalog, worlds (with their import lifecycle) and overlays. The Index
// facade documents the contract of each call.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "index/rows.hpp"

namespace lj::index {
class Db;
}

namespace lj::index::catalog {

Result<EventRow> insert_world(Db& db, WorldRow row, std::optional<std::uint32_t> uid);
Result<EventRow> transition(Db& db, std::string_view name, WorldState to, const WorldChange& with,
                            std::optional<std::uint32_t> uid);
Result<EventRow> delete_world(Db& db, std::string_view name, std::optional<std::uint32_t> uid);
Result<WorldRow> get_world(Db& db, std::string_view name);
// Every world, or those in `state`; by name.
Result<std::vector<WorldRow>> list_worlds(Db& db, std::optional<WorldState> state);

Result<EventRow> insert_overlay(Db& db, OverlayRow row, std::optional<std::uint32_t> uid);
Result<EventRow> delete_overlay(Db& db, std::string_view name, std::string_view version,
                                std::optional<std::uint32_t> uid);
Result<OverlayRow> get_overlay(Db& db, std::string_view name, std::string_view version);
Result<std::vector<OverlayRow>> list_overlays(Db& db, std::string_view name);

}  // namespace lj::index::catalog
