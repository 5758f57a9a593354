// JSON on the wire: rows of the index and records of the streams, snake_case as in
// proto/openapi.yaml. Pure functions.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "index/index.hpp"

namespace lj::daemon {

// RFC 3339 UTC with milliseconds: "2026-11-24T18:00:03.123Z".
std::string iso_time(index::Time t);

// {"code", "signal", "oom", "timed_out", "lost", "exited_at"}, or null while the jail has not
// ended.
nlohmann::json exit_json(const index::JailRow& row);
// GET /v1/jails's body. The stored specs are JSON ljd wrote itself (encode_create): pasted as
// they are, not parsed into trees and dumped again (1,000 live jails: ~3x faster).
// `networks_of` (when given) adds each row's "networks", as GET /v1/jails/{id} has them.
std::string jail_list_json(const std::vector<index::JailRow>& rows,
                           const std::function<nlohmann::json(const std::string& id)>& networks_of = {});
nlohmann::json jail_json(const index::JailRow& row);
nlohmann::json world_json(const index::WorldRow& row);
nlohmann::json overlay_json(const index::OverlayRow& row);
nlohmann::json build_json(const index::BuildRow& row);
// One NDJSON line (without the newline) of GET /v1/events.
std::string event_line(const index::EventRow& e);

}  // namespace lj::daemon
