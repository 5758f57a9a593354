// ljctl's human output: aligned tables, sizes, ages and jail statuses, as pure functions of the
// API's JSON (no socket), so tests can check exact text.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace lj::ljctl {

// Columns separated by three spaces, each as wide as its widest cell (counted in UTF-8 code
// points); the last column is not padded, so lines carry no trailing blanks.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::size_t size() const { return rows_.size(); }
  std::string str() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// 1536 -> "1.5K", 536870912 -> "512M", 0 -> "0B" (binary units, like ls -lh).
std::string human_size(std::uint64_t bytes);

// RFC 3339 ("2026-11-24T18:00:03.123Z", or with an offset) -> time point; nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view s);

// A duration as people say it: "3 seconds", "1 minute", "5 hours", "2 days".
std::string human_duration(std::chrono::seconds d);

// "3 seconds ago" for an RFC 3339 time relative to `now`; "-" for null or malformed.
std::string ago(const nlohmann::json& time, std::chrono::system_clock::time_point now);

// The STATUS column of `ljctl ps` for a jail object: "Up 5 minutes", "Exited (3) 2 seconds ago",
// "Killed (SIGKILL) 1 minute ago", "OOM-killed ...", "Timed out ...", "Created", "Removed ...".
std::string jail_status(const nlohmann::json& jail, std::chrono::system_clock::time_point now);

// What a jail runs on, from its spec: "bookworm" or "lang/ruby@~>2.1".
std::string jail_image(const nlohmann::json& jail);

// A command line for display: words joined by spaces, quoted when they need it, cut to `max`
// characters with "...".
std::string display_command(const nlohmann::json& argv, std::size_t max = 40);

// A JSON value as a table cell: strings bare, null as "-", the rest as compact JSON.
std::string cell(const nlohmann::json& v);

}  // namespace lj::ljctl
