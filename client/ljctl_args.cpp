#include "client/ljctl_args.hpp"
#include "client/ljctl_network.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

#include "common/signals.hpp"

namespace lj::ljctl {

using nlohmann::json;

namespace {

tl::unexpected<Error> bad(std::string msg) {
  return fail(Errc::invalid_argument, "ljctl", std::move(msg));
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A non-negative decimal number at the start of `s` ("1.5"), advancing `s` past it.
std::optional<double> take_number(std::string_view& s) {
  std::size_t i = 0;
  bool digits = false, dot = false;
  while (i < s.size() &&
         (std::isdigit(static_cast<unsigned char>(s[i])) || (s[i] == '.' && !dot))) {
    if (s[i] == '.')
      dot = true;
    else
      digits = true;
    ++i;
  }
  if (!digits) return std::nullopt;
  // By hand, not std::from_chars: FreeBSD's libc++ has none for double (and strtod follows the
  // locale). The digits make an exact integer and 10^k is exact up to 1e22, so one division gives
  // the correctly rounded value from_chars gives, for up to 15 significant digits.
  std::uint64_t mantissa = 0;
  int frac = 0;
  bool after_dot = false;
  for (char c : s.substr(0, i)) {
    if (c == '.') {
      after_dot = true;
      continue;
    }
    if (mantissa > (UINT64_MAX - 9) / 10) return std::nullopt;
    mantissa = mantissa * 10 + static_cast<std::uint64_t>(c - '0');
    if (after_dot) ++frac;
  }
  if (frac > 22) return std::nullopt;
  double scale = 1;
  for (int k = 0; k < frac; ++k) scale *= 10;
  s.remove_prefix(i);
  return static_cast<double>(mantissa) / scale;
}

}  // namespace

Result<std::uint64_t> parse_count(std::string_view s) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    return bad("bad number `" + std::string(s) + "`: expected a whole number");
  }
  return n;
}

Result<std::uint64_t> parse_size(std::string_view s) {
  std::string_view rest = s;
  auto v = take_number(rest);
  if (!v)
    return bad("bad size `" + std::string(s) + "`: expected a number with K, M, G or T (512M, 1G)");
  std::string unit = lower(rest);
  double mult = 1;
  if (!unit.empty()) {
    static const std::pair<char, double> kUnits[] = {{'b', 1},
                                                     {'k', 1024.0},
                                                     {'m', 1024.0 * 1024},
                                                     {'g', 1024.0 * 1024 * 1024},
                                                     {'t', 1024.0 * 1024 * 1024 * 1024}};
    bool ok = false;
    for (auto [c, m] : kUnits) {
      if (unit[0] != c) continue;
      std::string_view suffix = std::string_view(unit).substr(1);
      ok = c == 'b' ? suffix.empty() : (suffix.empty() || suffix == "b" || suffix == "ib");
      mult = m;
    }
    if (!ok)
      return bad("bad size `" + std::string(s) + "`: unknown unit `" + std::string(rest) +
                 "` (use K, M, G or T)");
  }
  double bytes = *v * mult;
  if (bytes >= 18446744073709551615.0) return bad("size `" + std::string(s) + "` is too large");
  if (mult == 1 && std::floor(*v) != *v)
    return bad("bad size `" + std::string(s) + "`: a fraction of a byte");
  return static_cast<std::uint64_t>(std::llround(bytes));
}

Result<double> parse_duration(std::string_view s) {
  auto bad_duration = [&] {
    return bad("bad duration `" + std::string(s) +
               "`: expected seconds or a duration like 30s, 5m, 1h30m");
  };
  std::string_view rest = s;
  double total = 0;
  bool any = false;
  while (!rest.empty()) {
    auto v = take_number(rest);
    if (!v) return bad_duration();
    if (rest.empty()) {
      if (any) return bad_duration();  // "1m30": the unit of 30 is a guess
      total += *v;
      any = true;
      break;
    }
    double mult;
    if (rest.substr(0, 2) == "ms")
      mult = 0.001, rest.remove_prefix(2);
    else if (rest[0] == 's')
      mult = 1, rest.remove_prefix(1);
    else if (rest[0] == 'm')
      mult = 60, rest.remove_prefix(1);
    else if (rest[0] == 'h')
      mult = 3600, rest.remove_prefix(1);
    else if (rest[0] == 'd')
      mult = 86400, rest.remove_prefix(1);
    else
      return bad_duration();
    total += *v * mult;
    any = true;
  }
  if (!any) return bad_duration();
  return total;
}

Result<std::uint32_t> parse_cpu(std::string_view s) {
  std::string_view rest = s;
  auto v = take_number(rest);
  double percent;
  if (v && rest == "%")
    percent = *v;
  else if (v && rest.empty())
    percent = *v * 100;
  else
    return bad("bad CPU limit `" + std::string(s) +
               "`: expected CPUs (0.5, 2) or a percent of one CPU (150%)");
  if (percent < 1 || percent > 100000) {
    return bad("CPU limit `" + std::string(s) + "` out of range: from 1% to 1000 CPUs");
  }
  return static_cast<std::uint32_t>(std::lround(percent));
}

Result<int> parse_signal(std::string_view s) {
  if (auto n = lj::parse_signal(s)) return *n;
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return bad("bad signal `" + std::string(s) + "`: not a signal number");
  return bad("unknown signal `" + std::string(s) +
             "` (use a name like TERM, KILL, HUP or a number)");
}

std::string signal_name(int sig) {
  return lj::signal_name(sig).value_or("signal " + std::to_string(sig));
}

Result<std::pair<std::string, std::string>> parse_kv(std::string_view s, std::string_view what) {
  auto eq = s.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return bad(std::string(what) + " `" + std::string(s) + "`: expected KEY=VALUE");
  }
  return std::pair<std::string, std::string>(s.substr(0, eq), s.substr(eq + 1));
}

Result<json> parse_volume(std::string_view s, const std::filesystem::path& cwd) {
  auto bad_volume = [&](std::string why) {
    return bad("bad volume `" + std::string(s) + "`: " + why + " (expected HOST:JAIL[:ro])");
  };
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    auto c = s.find(':', start);
    parts.push_back(s.substr(start, c == std::string_view::npos ? s.npos : c - start));
    if (c == std::string_view::npos) break;
    start = c + 1;
  }
  bool read_only = false;
  if (parts.size() == 3) {
    if (parts[2] == "ro")
      read_only = true;
    else if (parts[2] != "rw")
      return bad_volume("the mode is ro or rw");
  } else if (parts.size() != 2) {
    return bad_volume("two or three fields separated by ':'");
  }
  if (parts[0].empty()) return bad_volume("the host path is empty");
  if (parts[1].empty() || parts[1][0] != '/') return bad_volume("the jail path must be absolute");
  std::filesystem::path host(parts[0]);
  if (host.is_relative()) host = cwd / host;
  host = host.lexically_normal();
  std::string hs = host.string();
  if (hs.size() > 1 && hs.back() == '/') hs.pop_back();
  return json{{"host_path", hs}, {"jail_path", std::string(parts[1])}, {"read_only", read_only}};
}

namespace {
// An image reference rather than a world or overlay: a ':' before any '@' (a tag, a port), a
// digest, or a first component that names a registry (a '.', or localhost) before a '/'.
bool looks_like_image(std::string_view s) {
  if (s.find("@sha256:") != std::string_view::npos) return true;
  std::string_view name = s.substr(0, s.find('@'));
  if (name.find(':') != std::string_view::npos) return true;
  auto slash = name.find('/');
  if (slash == std::string_view::npos) return false;
  std::string_view first = name.substr(0, slash);
  return first == "localhost" || first.find('.') != std::string_view::npos;
}
}  // namespace

Result<Target> parse_target(std::string_view s) {
  Target t;
  if (!s.empty() && looks_like_image(s)) {
    t.image = s;
    return t;
  }
  auto at = s.find('@');
  std::string_view name = s.substr(0, at);
  if (name.empty())
    return bad("missing world or overlay to run (e.g. `ljctl run bookworm -- /bin/true`)");
  if (name.find('/') == std::string_view::npos) {
    if (at != std::string_view::npos) {
      return bad(
          "`" + std::string(s) +
          "`: a world has no versions (overlay names have a slash: namespace/name@constraint)");
    }
    t.world = name;
    return t;
  }
  t.overlay = name;
  if (at != std::string_view::npos) {
    t.constraint = s.substr(at + 1);
    if (t.constraint.empty())
      return bad("`" + std::string(s) + "`: empty version constraint after @");
  }
  return t;
}

Result<json> make_create_body(
    const RunOptions& o, const std::filesystem::path& cwd,
    const std::function<std::optional<std::string>(const std::string&)>& getenv) {
  json body = json::object();
  auto target = LJ_TRY(parse_target(o.target));
  if (o.image) target = Target{.image = o.target, .world = {}, .overlay = {}, .constraint = {}};
  if (!o.name.empty()) body["name"] = o.name;
  if (!target.image.empty()) {
    if (!o.world.empty()) return bad("--world: an image is the whole root, it takes no world");
    body["image"] = target.image;
  } else if (!target.world.empty()) {
    if (!o.world.empty() && o.world != target.world) {
      return bad("--world " + o.world + " contradicts the world to run, " + target.world);
    }
    body["world"] = target.world;
  } else {
    if (!o.world.empty()) body["world"] = o.world;
    json ov = {{"name", target.overlay}};
    if (!target.constraint.empty()) ov["version"] = target.constraint;
    body["overlay"] = ov;
  }
  if (o.command.empty() && target.image.empty()) {
    return bad("no command to run: give it after `--` (ljctl run " + o.target +
               " -- /bin/sh -c 'echo hi')");
  }
  if (!o.command.empty()) body["command"] = o.command;
  if (!o.env.empty()) {
    json env = json::object();
    for (const auto& e : o.env) {
      if (e.find('=') == std::string::npos) {
        if (e.empty()) return bad("-e: empty variable name");
        auto v = getenv(e);
        if (v) env[e] = *v;  // docker's `-e NAME`: pass it on when set, else leave it out
        continue;
      }
      auto kv = LJ_TRY(parse_kv(e, "-e"));
      env[kv.first] = kv.second;
    }
    if (!env.empty()) body["env"] = env;
  }
  if (!o.workdir.empty()) body["workdir"] = o.workdir;
  if (!o.hostname.empty()) body["hostname"] = o.hostname;
  if (!o.net.empty() || !o.interface.empty() || !o.addresses.empty()) {
    std::string mode = o.net.empty() ? (o.addresses.empty() ? "none" : "ip") : o.net;
    if (mode != "none" && mode != "inherit" && mode != "ip") {
      return bad("--net " + mode + ": expected none, inherit or ip");
    }
    if (mode != "ip" && (!o.interface.empty() || !o.addresses.empty())) {
      return bad("--interface and --address go with --net ip");
    }
    if (mode == "ip" && o.addresses.empty()) {
      return bad("--net ip needs --address ADDR/PREFIX (and --interface IFACE)");
    }
    json net = {{"mode", mode}};
    if (!o.interface.empty()) net["interface"] = o.interface;
    if (!o.addresses.empty()) net["addresses"] = o.addresses;
    body["network"] = net;
  }
  json limits = json::object();
  if (!o.memory.empty()) limits["memory_bytes"] = LJ_TRY_CTX("--memory", parse_size(o.memory));
  if (!o.pids.empty()) limits["pids"] = LJ_TRY_CTX("--pids", parse_count(o.pids));
  if (!o.cpu.empty()) limits["cpu_percent"] = LJ_TRY_CTX("--cpu", parse_cpu(o.cpu));
  if (!o.nofile.empty()) limits["nofile"] = LJ_TRY_CTX("--nofile", parse_count(o.nofile));
  if (!o.timeout.empty()) limits["timeout_s"] = LJ_TRY_CTX("--timeout", parse_duration(o.timeout));
  if (!limits.empty()) body["limits"] = limits;
  if (o.networking) LJ_TRY(add_run_networking(*o.networking, body));
  if (!o.volumes.empty()) {
    json vols = json::array();
    for (const auto& v : o.volumes) vols.push_back(LJ_TRY(parse_volume(v, cwd)));
    body["volumes"] = vols;
  }
  if (!o.labels.empty()) {
    json labels = json::object();
    for (const auto& l : o.labels) {
      auto kv = LJ_TRY(parse_kv(l, "--label"));
      labels[kv.first] = kv.second;
    }
    body["labels"] = labels;
  }
  body["auto_remove"] = o.rm || (!o.keep && !o.keep_by_default);
  if (o.interactive) body["stdin"] = true;
  if (o.tty) body["tty"] = true;
  if (o.tty && o.rows != 0 && o.cols != 0) body["tty_size"] = {{"rows", o.rows}, {"cols", o.cols}};
  if (!o.user.empty()) body["user"] = o.user;
  if (!o.privileges.empty()) body["privileges"] = o.privileges;
  if (o.policy_override) body["policy_override"] = true;
  return body;
}

Result<std::vector<std::string>> read_env_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return bad("--env-file " + path + ": " + std::strerror(errno));
  std::vector<std::string> env;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    line.erase(0, first);
    const std::string name = line.substr(0, line.find('='));
    if (name.empty() || name.find_first_of(" \t") != std::string::npos)
      return bad("--env-file " + path + ":" + std::to_string(n) + ": bad variable name `" + name +
                 "`");
    env.push_back(line);
  }
  if (in.bad()) return bad("--env-file " + path + ": read error");
  return env;
}

int exit_status(const json& exit) {
  if (!exit.is_object()) return kExitError;
  if (exit.value("lost", false)) return kExitError;
  auto sig = exit.find("signal");
  if (sig != exit.end() && sig->is_number_integer() && sig->get<int>() > 0) {
    return 128 + sig->get<int>();
  }
  auto code = exit.find("code");
  if (code != exit.end() && code->is_number_integer()) return code->get<int>() & 0xff;
  return kExitError;
}

}  // namespace lj::ljctl
