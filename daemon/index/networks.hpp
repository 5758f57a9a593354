// Private to lj_index: the networks table and the leases of jails on them. The Index facade
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

namespace lj::index::networks {

Result<std::pair<NetworkRow, EventRow>> insert(Db& db, NetworkRow row,
                                               std::optional<std::uint32_t> uid);
Result<EventRow> erase(Db& db, std::string_view name, std::optional<std::uint32_t> uid);
Result<NetworkRow> get(Db& db, std::string_view name);
Result<std::vector<NetworkRow>> list(Db& db);

// Leases of one network (empty: of every network), or of one jail.
Result<std::vector<LeaseRow>> leases_of_network(Db& db, std::string_view network);
Result<std::vector<LeaseRow>> leases_of_jail(Db& db, std::string_view jail_id);
// Inserts the leases inside the caller's transaction (the jail's insert).
void insert_leases(Db& db, const std::vector<LeaseRow>& leases);
// Deletes one jail's leases; how many.
Result<int> release(Db& db, std::string_view jail_id);
// Deletes the leases of every jail that has ended (exited or removed); how many.
Result<int> release_ended(Db& db);

}  // namespace lj::index::networks
