// The networks table and the leases table (migrations 004, 005). A lease is inserted with its
// jail's row (jails::insert), so an address is taken exactly when a jail holding it exists. It is
// released after the jail's rules are gone (release, by the daemon after the teardown; or
// release_ended, by recovery after it replaced ljd's rules), or by the trigger `leases_release`
// when a jail is removed (one that never ran holds no rules), or with the row (cascade).
#include "index/networks.hpp"

#include "index/db.hpp"

namespace lj::index::networks {
namespace {

using json = nlohmann::json;

constexpr const char* kCols =
    "name, id, subnet4, gateway4, subnet6, gateway6, internal, created_at";
constexpr const char* kLeaseCols = "jail_id, network, position, address4, address6";

NetworkRow read(SQLite::Statement& s) {
  NetworkRow r;
  r.name = s.getColumn(0).getString();
  r.id = s.getColumn(1).getString();
  r.subnet4 = s.getColumn(2).getString();
  r.gateway4 = s.getColumn(3).getString();
  r.subnet6 = s.getColumn(4).getString();
  r.gateway6 = s.getColumn(5).getString();
  r.internal = s.getColumn(6).getInt() != 0;
  r.created_at = from_ms(s.getColumn(7).getInt64());
  return r;
}

LeaseRow read_lease(SQLite::Statement& s) {
  LeaseRow r;
  r.jail_id = s.getColumn(0).getString();
  r.network = s.getColumn(1).getString();
  r.position = s.getColumn(2).getInt();
  r.address4 = s.getColumn(3).getString();
  if (!s.getColumn(4).isNull()) r.address6 = s.getColumn(4).getString();
  return r;
}

json event_data(const NetworkRow& r) {
  json d = {{"id", r.id}, {"subnet", r.subnet4}, {"gateway", r.gateway4},
            {"internal", r.internal}};
  if (!r.subnet6.empty()) {
    d["subnet6"] = r.subnet6;
    d["gateway6"] = r.gateway6;
  }
  return d;
}

}  // namespace

Result<std::pair<NetworkRow, EventRow>> insert(Db& db, NetworkRow row,
                                               std::optional<std::uint32_t> uid) {
  return db.guarded("inserting network", [&]() -> Result<std::pair<NetworkRow, EventRow>> {
    Db::Tx tx(db);
    if (row.id.empty()) row.id = db.random_id('n');
    row.created_at = or_now(row.created_at);
    auto q = db.query(
        "INSERT INTO networks (name, id, subnet4, gateway4, subnet6, gateway6, internal, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    q->bind(1, row.name);
    q->bind(2, row.id);
    q->bind(3, row.subnet4);
    q->bind(4, row.gateway4);
    q->bind(5, row.subnet6);
    q->bind(6, row.gateway6);
    q->bind(7, row.internal ? 1 : 0);
    q->bind(8, static_cast<std::int64_t>(ms(row.created_at)));
    try {
      q->exec();
    } catch (const SQLite::Exception& e) {
      if (e.getErrorCode() == SQLITE_CONSTRAINT) {
        return fail(Errc::exists, kDomain, fmt::format("network {} exists", row.name));
      }
      throw;
    }
    auto ev = LJ_TRY(db.append("network.created", row.name, uid, event_data(row).dump()));
    LJ_TRY(tx.commit());
    return std::make_pair(row, ev);
  });
}

Result<EventRow> erase(Db& db, std::string_view name, std::optional<std::uint32_t> uid) {
  return db.guarded("deleting network", [&]() -> Result<EventRow> {
    Db::Tx tx(db);
    {
      auto held = db.query("SELECT jail_id FROM leases WHERE network = ? ORDER BY jail_id");
      held->bind(1, std::string(name));
      std::string jails;
      while (held->executeStep()) {
        jails += (jails.empty() ? "" : ", ") + held->getColumn(0).getString();
      }
      if (!jails.empty()) {
        return fail(Errc::conflict, kDomain,
                    fmt::format("network {} is in use by jails {}", name, jails));
      }
    }
    auto q = db.query("DELETE FROM networks WHERE name = ?");
    q->bind(1, std::string(name));
    if (q->exec() == 0) {
      return fail(Errc::not_found, kDomain, fmt::format("network {} not found", name));
    }
    auto ev = LJ_TRY(db.append("network.removed", name, uid, "{}"));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<NetworkRow> get(Db& db, std::string_view name) {
  return db.guarded("reading network", [&]() -> Result<NetworkRow> {
    auto q = db.query(fmt::format("SELECT {} FROM networks WHERE name = ?", kCols));
    q->bind(1, std::string(name));
    if (!q->executeStep()) {
      return fail(Errc::not_found, kDomain, fmt::format("network {} not found", name));
    }
    return read(*q);
  });
}

Result<std::vector<NetworkRow>> list(Db& db) {
  return db.guarded("listing networks", [&]() -> Result<std::vector<NetworkRow>> {
    auto q = db.query(fmt::format("SELECT {} FROM networks ORDER BY name", kCols));
    std::vector<NetworkRow> out;
    while (q->executeStep()) out.push_back(read(*q));
    return out;
  });
}

Result<std::vector<LeaseRow>> leases_of_network(Db& db, std::string_view network) {
  return db.guarded("listing leases", [&]() -> Result<std::vector<LeaseRow>> {
    std::vector<LeaseRow> out;
    if (network.empty()) {
      auto q = db.query(fmt::format("SELECT {} FROM leases ORDER BY network, jail_id", kLeaseCols));
      while (q->executeStep()) out.push_back(read_lease(*q));
    } else {
      auto q = db.query(
          fmt::format("SELECT {} FROM leases WHERE network = ? ORDER BY jail_id", kLeaseCols));
      q->bind(1, std::string(network));
      while (q->executeStep()) out.push_back(read_lease(*q));
    }
    return out;
  });
}

Result<std::vector<LeaseRow>> leases_of_jail(Db& db, std::string_view jail_id) {
  return db.guarded("listing leases", [&]() -> Result<std::vector<LeaseRow>> {
    auto q = db.query(
        fmt::format("SELECT {} FROM leases WHERE jail_id = ? ORDER BY position", kLeaseCols));
    q->bind(1, std::string(jail_id));
    std::vector<LeaseRow> out;
    while (q->executeStep()) out.push_back(read_lease(*q));
    return out;
  });
}

void insert_leases(Db& db, const std::vector<LeaseRow>& leases) {
  for (const LeaseRow& l : leases) {
    auto q = db.query(
        "INSERT INTO leases (jail_id, network, position, address4, address6) "
        "VALUES (?, ?, ?, ?, ?)");
    q->bind(1, l.jail_id);
    q->bind(2, l.network);
    q->bind(3, l.position);
    q->bind(4, l.address4);
    if (l.address6.empty()) {
      q->bind(5);
    } else {
      q->bind(5, l.address6);
    }
    q->exec();
  }
}

Result<int> release(Db& db, std::string_view jail_id) {
  return db.guarded("releasing leases", [&]() -> Result<int> {
    auto q = db.query("DELETE FROM leases WHERE jail_id = ?");
    q->bind(1, std::string(jail_id));
    return q->exec();
  });
}

Result<int> release_ended(Db& db) {
  return db.guarded("releasing leases of ended jails", [&]() -> Result<int> {
    auto q = db.query(
        "DELETE FROM leases WHERE jail_id IN "
        "(SELECT id FROM jails WHERE state IN ('exited', 'removed'))");
    return q->exec();
  });
}

}  // namespace lj::index::networks
