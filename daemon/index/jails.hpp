// Private to lj_index: the jails table (rows, their transitions, filters). The Index facade
// documents the contract of each call.
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

namespace lj::index::jails {

Result<JailRow> insert(Db& db, JailRow row, std::vector<LeaseRow> leases = {});
Result<EventRow> transition(Db& db, std::string_view id, JailState to, const JailChange& with,
                            std::optional<std::uint32_t> uid);
Status erase(Db& db, std::string_view id);
Status set_auto_remove(Db& db, std::string_view id);
Result<JailRow> get(Db& db, std::string_view id_or_name);
Result<std::vector<JailRow>> list(Db& db, const JailFilter& filter);

}  // namespace lj::index::jails
