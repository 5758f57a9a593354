// A strict reader for JSON request bodies: every body goes through it, so that an unknown field, a
// wrong type or a missing required field is a 400 naming the field ("limits.memory_bytes"),
// never silently ignored. Usage:
//   auto doc = parse_body(req.body);            // malformed JSON -> api.invalid_argument
//   Fields f(*doc);
//   auto name = f.opt_string("name");
//   auto limits = f.object("limits");           // nested: its own unknown-field check
//   auto mem = limits.opt_uint("memory_bytes");
//   LJ_TRY(f.finish());                        // the first error, or unknown fields
// Readers after the first error return defaults; finish() reports that first error.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace lj::daemon {

// Parses a request body. An empty body is an empty object (POST .../start has none).
Result<nlohmann::json> parse_body(const std::string& body);

// The field named in a decoding error (details.field on the wire); empty when none.
struct FieldError {
  std::string field;
  std::string message;
};

// The longest duration a request may name (about 100 years): anything longer is a typo, and a
// double beyond int64 milliseconds would not convert.
inline constexpr double kMaxSeconds = 100.0 * 365 * 24 * 3600;

class Fields {
 public:
  // The root of a body: `doc` must be an object (else an error on field "").
  explicit Fields(const nlohmann::json& doc);

  std::optional<std::string> opt_string(const std::string& key);
  std::string string(const std::string& key);  // required
  std::optional<std::uint64_t> opt_uint(const std::string& key);
  std::optional<std::int64_t> opt_int(const std::string& key);
  std::optional<double> opt_number(const std::string& key);
  std::optional<bool> opt_bool(const std::string& key);
  // A duration in seconds (a number, fractions allowed), 0 <= s <= kMaxSeconds; milliseconds.
  std::optional<std::chrono::milliseconds> opt_seconds(const std::string& key);
  std::optional<std::vector<std::string>> opt_strings(const std::string& key);
  std::optional<std::map<std::string, std::string>> opt_string_map(const std::string& key);
  // A nested object (absent: present() is false, every read returns nullopt).
  Fields object(const std::string& key, bool required = false);
  // An array of objects; each element is read with its own Fields.
  std::vector<Fields> objects(const std::string& key);
  bool present() const { return obj_ != nullptr; }
  // The raw value (marked as read), for fields of more than one type; nullptr when absent.
  const nlohmann::json* opt_raw(const std::string& key) { return get(key); }

  // Records a semantic error on a field of this object (e.g. an out-of-range value).
  void reject(const std::string& key, const std::string& message);

  // The first error of this reader or of any reader made from it, else the first unknown field
  // of any object read so far. Call once, on the root, after every read.
  Status finish();
  const std::optional<FieldError>& error() const { return shared_->error; }

 private:
  struct Obj {
    const nlohmann::json* obj;
    std::string path;  // "" for the root, "limits", "volumes[1]"
    std::set<std::string> used;
  };
  struct Shared {
    std::optional<FieldError> error;
    std::vector<Obj> objs;  // every object read, for the unknown-field check
  };
  Fields(const nlohmann::json* obj, std::string path, std::shared_ptr<Shared> shared);
  const nlohmann::json* get(const std::string& key);  // marks used; nullptr when absent/null
  std::string name(const std::string& key) const;
  void type_error(const std::string& key, const char* expected, const nlohmann::json& got);

  const nlohmann::json* obj_ = nullptr;
  std::size_t index_ = 0;  // into shared_->objs
  std::string path_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace lj::daemon
