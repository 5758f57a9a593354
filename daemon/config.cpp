#include "daemon/config.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

namespace lj::daemon {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

template <class T>
bool to_uint(std::string_view v, T* out, int base = 10) {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *out, base);
  return ec == std::errc() && p == v.data() + v.size();
}

// Sizes accept a K/M/G suffix (powers of 1024), durations s/m/h/d.
bool to_size(std::string_view v, std::uint64_t* out) {
  std::uint64_t mult = 1;
  if (!v.empty()) {
    switch (v.back()) {
      case 'K':
      case 'k':
        mult = 1ull << 10;
        break;
      case 'M':
      case 'm':
        mult = 1ull << 20;
        break;
      case 'G':
      case 'g':
        mult = 1ull << 30;
        break;
      default:
        break;
    }
    if (mult != 1) v.remove_suffix(1);
  }
  if (!to_uint(v, out)) return false;
  *out *= mult;
  return true;
}

bool to_seconds(std::string_view v, std::chrono::seconds* out) {
  std::uint64_t mult = 1;
  if (!v.empty()) {
    switch (v.back()) {
      case 's':
        mult = 1;
        v.remove_suffix(1);
        break;
      case 'm':
        mult = 60;
        v.remove_suffix(1);
        break;
      case 'h':
        mult = 3600;
        v.remove_suffix(1);
        break;
      case 'd':
        mult = 86400;
        v.remove_suffix(1);
        break;
      default:
        break;
    }
  }
  std::uint64_t n = 0;
  if (!to_uint(v, &n)) return false;
  *out = std::chrono::seconds(n * mult);
  return true;
}

}  // namespace

Status parse_config(std::string_view text, Config* cfg) {
  int lineno = 0;
  while (!text.empty()) {
    ++lineno;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (std::size_t hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    std::size_t eq = line.find('=');
    auto bad = [&](std::string why) {
      return fail(Errc::invalid_argument, "config", "line " + std::to_string(lineno) + ": " + why);
    };
    if (eq == std::string_view::npos) return bad("expected `key = value`");
    std::string key(trim(line.substr(0, eq)));
    std::string_view v = trim(line.substr(eq + 1));
    std::uint64_t n = 0;
    bool ok = true;
    if (key == "root")
      cfg->root = std::string(v);
    else if (key == "socket")
      cfg->socket = std::string(v);
    else if (key == "socket_group")
      cfg->socket_group = std::string(v);
    else if (key == "socket_mode")
      ok = to_uint(v, &cfg->socket_mode, 8);
    else if (key == "pidfile")
      cfg->pidfile = std::string(v);
    else if (key == "default_world")
      cfg->default_world = std::string(v);
    else if (key == "default_memory_bytes")
      ok = to_size(v, &cfg->default_memory_bytes);
    else if (key == "default_pids")
      ok = to_uint(v, &cfg->default_pids);
    else if (key == "default_cpu_percent")
      ok = to_uint(v, &cfg->default_cpu_percent);
    else if (key == "default_nofile")
      ok = to_uint(v, &cfg->default_nofile);
    else if (key == "jails_pids_max") {
      if (v == "auto") {
        cfg->jails_pids_max.reset();
      } else {
        ok = to_uint(v, &n);
        cfg->jails_pids_max = n;
      }
    } else if (key == "default_timeout") {
      std::chrono::seconds s{};
      ok = to_seconds(v, &s);
      cfg->default_timeout_s = static_cast<std::uint64_t>(s.count());
    } else if (key == "max_body_bytes")
      ok = to_size(v, &n), cfg->max_body_bytes = n;
    else if (key == "max_header_bytes")
      ok = to_size(v, &n), cfg->max_header_bytes = n;
    else if (key == "idle_timeout")
      ok = to_seconds(v, &cfg->idle_timeout) && cfg->idle_timeout.count() > 0;
    else if (key == "max_connections")
      ok = to_uint(v, &cfg->max_connections) && cfg->max_connections > 0;
    else if (key == "heartbeat")
      ok = to_seconds(v, &cfg->heartbeat);
    else if (key == "retention")
      ok = to_seconds(v, &cfg->retention);
    else if (key == "max_jails")
      ok = to_uint(v, &cfg->max_jails);
    else if (key == "stream_backlog_bytes")
      ok = to_size(v, &n), cfg->stream_backlog_bytes = n;
    else if (key == "log_max_bytes")
      ok = to_size(v, &cfg->log_max_bytes);
    else if (key == "workers")
      ok = to_uint(v, &cfg->workers) && cfg->workers > 0;
    else if (key == "log_level")
      cfg->log_level = std::string(v);
    else if (key == "stop_timeout")
      ok = to_seconds(v, &cfg->stop_timeout);
    else if (key == "on_shutdown") {
      if (v == "stop")
        cfg->on_shutdown = OnShutdown::stop;
      else if (v == "leave")
        cfg->on_shutdown = OnShutdown::leave;
      else
        ok = false;
    } else if (key == "publish_port_range") {
      auto r = v.empty() ? Result<PortRange>(PortRange{}) : parse_port_range(v);
      if (!r) return bad("publish_port_range " + r.error().message());
      cfg->publish_port_range = *r;
    } else if (key == "devfs_ruleset" || key == "devfs_close_ruleset") {
      std::uint16_t r = 0;  // devfs(8) rulesets are 16-bit numbers
      ok = to_uint(v, &r);
      (key == "devfs_ruleset" ? cfg->devfs_ruleset : cfg->devfs_close_ruleset) = r;
    } else if (key == "devfs_rulesets") {
      auto r = parse_port_range(v);
      if (!r) return bad("devfs_rulesets " + r.error().message());
      cfg->devfs_rulesets = *r;
    } else if (key == "index_synchronous") {
      if (v == "normal")
        cfg->index_synchronous_full = false;
      else if (v == "full")
        cfg->index_synchronous_full = true;
      else
        ok = false;
    } else if (auto p = parse_policy_key(key, v, &cfg->policy); !p) {
      return bad(p.error().message());
    } else if (!*p) {
      return bad("unknown key `" + key + "`");
    }
    if (!ok) return bad("bad value for `" + key + "`: `" + std::string(v) + "`");
  }
  // A jail's own ruleset must never be the shared one or the closing one: teardown removes it.
  for (int shared : {cfg->devfs_ruleset, cfg->devfs_close_ruleset}) {
    if (shared != 0 && shared >= cfg->devfs_rulesets.first && shared <= cfg->devfs_rulesets.last) {
      return fail(Errc::invalid_argument, "config",
                  "devfs_rulesets " + std::to_string(cfg->devfs_rulesets.first) + "-" +
                      std::to_string(cfg->devfs_rulesets.last) + " holds ruleset " +
                      std::to_string(shared) + " (devfs_ruleset or devfs_close_ruleset)");
    }
  }
  return {};
}

Status load_config(const std::filesystem::path& file, Config* cfg) {
  std::ifstream in(file);
  if (!in) return fail_errno("config", "open " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), cfg).map_error([&](Error e) {
    return std::move(e).context(file.string());
  });
}

}  // namespace lj::daemon
