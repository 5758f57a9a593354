#include "daemon/wire.hpp"

namespace lj::daemon {

using nlohmann::json;

std::string iso_time(index::Time t) {
  return index::rfc3339(t);
}

namespace {
json opt_time(const std::optional<index::Time>& t) {
  return t ? json(iso_time(*t)) : json();
}
json parse_or_null(const std::string& text) {
  if (text.empty()) return json();
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}
// jail.exited events that an earlier ljd recorded carry exited_at as epoch milliseconds; the wire
// says RFC 3339 for every time, so those are converted as they are sent. The rest go as stored,
// unparsed.
std::string legacy_event_data(const index::EventRow& e) {
  if (e.type != "jail.exited" || e.data.find("\"exited_at\":\"") != std::string::npos)
    return e.data;
  json d = json::parse(e.data, nullptr, false);
  if (!d.is_object() || !d.contains("exited_at") || !d["exited_at"].is_number_integer())
    return e.data;
  const auto ms = d["exited_at"].get<std::int64_t>();
  d["exited_at"] = iso_time(index::Time(std::chrono::milliseconds(ms)));
  return d.dump(-1, ' ', false, json::error_handler_t::replace);
}
}  // namespace

json exit_json(const index::JailRow& r) {
  if (!r.exited_at) return json();
  return {{"code", r.exit_code ? json(*r.exit_code) : json()},
          {"signal", r.exit_signal ? json(*r.exit_signal) : json()},
          {"oom", r.oom},
          {"timed_out", r.timed_out},
          {"lost", r.lost},
          {"exited_at", iso_time(*r.exited_at)}};
}

namespace {
// Every field of a jail but its spec.
json jail_fields(const index::JailRow& r) {
  json j = {{"id", r.id},
            {"name", r.name},
            {"state", index::to_string(r.state)},
            {"labels", r.labels},
            {"auto_remove", r.auto_remove},
            {"owner_uid", r.owner_uid},
            {"pid", r.pid != 0 ? json(r.pid) : json()},
            {"created_at", iso_time(r.created_at)},
            {"started_at", opt_time(r.started_at)},
            {"exit", exit_json(r)},
            {"removed_at", opt_time(r.removed_at)}};
  return j;
}
}  // namespace

json jail_json(const index::JailRow& r) {
  json j = jail_fields(r);
  j["spec"] = parse_or_null(r.spec);
  return j;
}

std::string jail_list_json(const std::vector<index::JailRow>& rows,
                           const std::function<json(const std::string& id)>& networks_of) {
  std::string out = "[";
  for (const auto& r : rows) {
    std::string fields = jail_fields(r).dump(-1, ' ', false, json::error_handler_t::replace);
    fields.pop_back();  // the object's '}'
    out += fields;
    if (networks_of) {
      out += R"(,"networks":)";
      out += networks_of(r.id).dump(-1, ' ', false, json::error_handler_t::replace);
    }
    out += R"(,"spec":)";
    out += r.spec.empty() ? "null" : r.spec;
    out += "},";
  }
  if (out.size() > 1) out.pop_back();
  out += ']';
  return out;
}

json world_json(const index::WorldRow& r) {
  return {{"name", r.name},
          {"path", r.path},
          {"source", r.source},
          {"state", index::to_string(r.state)},
          {"size_bytes", r.size_bytes},
          {"created_at", iso_time(r.created_at)},
          {"error", parse_or_null(r.error)}};
}

json overlay_json(const index::OverlayRow& r) {
  return {{"name", r.name},
          {"version", r.version},
          {"world", r.world},
          {"parent", r.parent_name.empty()
                         ? json()
                         : json{{"name", r.parent_name}, {"version", r.parent_version}}},
          {"manifest", parse_or_null(r.manifest)},
          {"size_bytes", r.size_bytes},
          {"created_at", iso_time(r.created_at)}};
}

json build_json(const index::BuildRow& r) {
  json overlay;
  if (!r.name.empty()) overlay = {{"name", r.name}, {"version", r.version}};
  return {{"id", r.id},
          {"state", index::to_string(r.state)},
          {"context", r.context.empty() ? json() : json(r.context)},
          {"overlay", overlay},
          {"published", r.published},
          {"cache_hit", r.cache_hit},
          {"error", parse_or_null(r.error)},
          {"created_at", iso_time(r.created_at)},
          {"started_at", opt_time(r.started_at)},
          {"ended_at", opt_time(r.ended_at)}};
}

std::string event_line(const index::EventRow& e) {
  std::string out;
  out.reserve(128 + e.data.size());
  out += R"({"seq":)";
  out += std::to_string(e.seq);
  out += R"(,"time":")";
  out += iso_time(e.time);
  out += R"(","type":)";
  out += json(e.type).dump();
  out += R"(,"resource":)";
  out += json(e.resource).dump(-1, ' ', false, json::error_handler_t::replace);
  out += R"(,"uid":)";
  out += e.uid ? std::to_string(*e.uid) : "null";
  out += R"(,"data":)";
  out += e.data.empty() ? "{}" : legacy_event_data(e);
  out += '}';
  return out;
}

}  // namespace lj::daemon
