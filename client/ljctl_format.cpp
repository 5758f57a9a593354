#include "client/ljctl_format.hpp"

#include <cstdio>
#include <ctime>

#include "client/ljctl_args.hpp"

namespace lj::ljctl {

using nlohmann::json;

namespace {

std::size_t width(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count UTF-8 lead bytes
  return n;
}

}  // namespace

std::string Table::str() const {
  std::vector<std::size_t> widths(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], width(row[i]));
    }
  };
  measure(header_);
  for (const auto& r : rows_) measure(r);
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string& c = i < row.size() ? row[i] : std::string();
      line += c;
      if (i + 1 < widths.size()) line.append(widths[i] - width(c) + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  emit(header_);
  for (const auto& r : rows_) emit(r);
  return out;
}

std::string human_size(std::uint64_t bytes) {
  static const char* kUnits[] = {"B", "K", "M", "G", "T", "P", "E"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0 || v >= 10 || v == static_cast<double>(static_cast<std::uint64_t>(v))) {
    std::snprintf(buf, sizeof buf, "%.0f%s", v, kUnits[u]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f%s", v, kUnits[u]);
  }
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)
  std::tm tm{};
  int ms = 0;
  if (s.size() < 20) return std::nullopt;
  std::string str(s);
  int consumed = 0;
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  std::size_t i = 19;
  if (i < str.size() && str[i] == '.') {
    ++i;
    int digits = 0;
    while (i < str.size() && str[i] >= '0' && str[i] <= '9') {
      if (digits < 3) ms = ms * 10 + (str[i] - '0');
      ++digits;
      ++i;
    }
    for (int d = digits; d < 3; ++d) ms *= 10;
  }
  long offset = 0;
  if (i < str.size() && (str[i] == 'Z' || str[i] == 'z')) {
    ++i;
  } else if (i + 6 == str.size() && (str[i] == '+' || str[i] == '-') && str[i + 3] == ':') {
    int h = std::atoi(str.substr(i + 1, 2).c_str()), m = std::atoi(str.substr(i + 4, 2).c_str());
    offset = (str[i] == '+' ? 1 : -1) * (h * 3600 + m * 60);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != str.size()) return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t t = ::timegm(&tm);
  return std::chrono::system_clock::from_time_t(t - offset) + std::chrono::milliseconds(ms);
}

std::string human_duration(std::chrono::seconds d) {
  auto s = d.count();
  if (s < 0) s = 0;
  auto unit = [](long long n, const char* name) {
    return std::to_string(n) + " " + name + (n == 1 ? "" : "s");
  };
  if (s < 60) return s <= 1 ? "1 second" : unit(s, "second");
  if (s < 3600) return unit(s / 60, "minute");
  if (s < 2 * 86400) return unit(s / 3600, "hour");
  return unit(s / 86400, "day");
}

std::string ago(const json& time, std::chrono::system_clock::time_point now) {
  if (!time.is_string()) return "-";
  auto t = parse_time(time.get<std::string>());
  if (!t) return "-";
  return human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *t)) + " ago";
}

std::string jail_status(const json& jail, std::chrono::system_clock::time_point now) {
  std::string state = jail.value("state", "");
  const json exit = jail.contains("exit") ? jail["exit"] : json();
  auto since = [&](const char* key) {
    return jail.contains(key) ? ago(jail[key], now) : std::string("-");
  };
  if (state == "running" || state == "stopping") {
    std::string up = "Up";
    if (jail.contains("started_at") && jail["started_at"].is_string()) {
      if (auto t = parse_time(jail["started_at"].get<std::string>())) {
        up += " " + human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *t));
      }
    }
    return state == "stopping" ? up + " (stopping)" : up;
  }
  if (state == "creating") return "Creating";
  if (state == "created") return "Created";
  if (exit.is_object()) {
    std::string when = exit.contains("exited_at") ? ago(exit["exited_at"], now) : "-";
    std::string what;
    if (exit.value("lost", false))
      what = "Lost";
    else if (exit.value("oom", false))
      what = "OOM-killed";
    else if (exit.value("timed_out", false))
      what = "Timed out";
    else if (exit.contains("signal") && exit["signal"].is_number_integer() &&
             exit["signal"].get<int>() > 0)
      what = "Killed (" + signal_name(exit["signal"].get<int>()) + ")";
    else if (exit.contains("code") && exit["code"].is_number_integer())
      what = "Exited (" + std::to_string(exit["code"].get<int>()) + ")";
    else
      what = "Exited";
    if (state == "removed") what += ", removed";
    return what + " " + when;
  }
  if (state == "removed") return "Removed " + since("removed_at");
  return state.empty() ? "-" : state;
}

std::string jail_image(const json& jail) {
  const json spec =
      jail.contains("spec") && jail["spec"].is_object() ? jail["spec"] : json::object();
  if (spec.contains("overlay") && spec["overlay"].is_object()) {
    std::string out = spec["overlay"].value("name", "?");
    std::string v = spec["overlay"].value("version", "");
    if (!v.empty()) out += "@" + v;
    return out;
  }
  if (spec.contains("image") && spec["image"].is_string()) {
    std::string ref = spec["image"].get<std::string>();  // name:tag@sha256:...: the name shows
    auto at = ref.find("@sha256:");
    return at == std::string::npos || at == 0 ? ref : ref.substr(0, at);
  }
  return spec.value("world", "-");
}

std::string display_command(const json& argv, std::size_t max) {
  std::string out;
  if (argv.is_array()) {
    for (const auto& a : argv) {
      std::string w = a.is_string() ? a.get<std::string>() : a.dump();
      bool plain = !w.empty() && w.find_first_of(" \t\n'\"\\$`*?;&|<>(){}") == std::string::npos;
      if (!out.empty()) out += ' ';
      if (plain) {
        out += w;
      } else {
        out += '\'';
        for (char c : w) {
          if (c == '\'')
            out += "'\\''";
          else if (c == '\n')
            out += "\\n";
          else
            out += c;
        }
        out += '\'';
      }
    }
  } else if (argv.is_string()) {
    out = argv.get<std::string>();
    for (auto& c : out) {
      if (c == '\n') c = ' ';
    }
  }
  if (width(out) > max && max > 3) {
    std::size_t keep = 0, n = 0;
    while (keep < out.size() && n < max - 3) {
      ++keep;
      while (keep < out.size() && (static_cast<unsigned char>(out[keep]) & 0xC0) == 0x80) ++keep;
      ++n;
    }
    out = out.substr(0, keep) + "...";
  }
  return out;
}

std::string cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  return v.dump();
}

}  // namespace lj::ljctl
