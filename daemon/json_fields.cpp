#include "json_fields.hpp"

namespace lj::daemon {

using nlohmann::json;

Result<json> parse_body(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  // nlohmann throws parse_error with the byte offset; it is caught here, at the edge.
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    return fail(Errc::invalid_argument, "api", std::string("malformed JSON body: ") + e.what());
  }
}

namespace {
const char* type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    default:
      return "value";
  }
}
}  // namespace

Fields::Fields(const json& doc) : shared_(std::make_shared<Shared>()) {
  if (!doc.is_object()) {
    shared_->error =
        FieldError{"", std::string("the body must be a JSON object, not ") + type_name(doc)};
    return;
  }
  obj_ = &doc;
  index_ = 0;
  shared_->objs.push_back(Obj{obj_, "", {}});
}

Fields::Fields(const json* obj, std::string path, std::shared_ptr<Shared> shared)
    : obj_(obj), path_(std::move(path)), shared_(std::move(shared)) {
  if (obj_) {
    index_ = shared_->objs.size();
    shared_->objs.push_back(Obj{obj_, path_, {}});
  }
}

std::string Fields::name(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

const json* Fields::get(const std::string& key) {
  if (!obj_ || shared_->error) return nullptr;
  shared_->objs[index_].used.insert(key);
  auto it = obj_->find(key);
  if (it == obj_->end() || it->is_null()) return nullptr;
  return &*it;
}

void Fields::type_error(const std::string& key, const char* expected, const json& got) {
  reject(key, std::string("expected ") + expected + ", got " + type_name(got));
}

void Fields::reject(const std::string& key, const std::string& message) {
  if (!shared_->error) shared_->error = FieldError{name(key), message};
}

std::optional<std::string> Fields::opt_string(const std::string& key) {
  const json* v = get(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) return type_error(key, "string", *v), std::nullopt;
  return v->get<std::string>();
}

std::string Fields::string(const std::string& key) {
  if (obj_ && !shared_->error && !obj_->contains(key)) {
    reject(key, "required field is missing");
    return {};
  }
  return opt_string(key).value_or("");
}

std::optional<std::uint64_t> Fields::opt_uint(const std::string& key) {
  const json* v = get(key);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned()) return v->get<std::uint64_t>();
  if (v->is_number_integer()) {
    return reject(key, "must not be negative"), std::nullopt;
  }
  return type_error(key, "unsigned integer", *v), std::nullopt;
}

std::optional<std::int64_t> Fields::opt_int(const std::string& key) {
  const json* v = get(key);
  if (!v) return std::nullopt;
  if (v->is_number_integer() &&
      !(v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)))
    return v->get<std::int64_t>();
  return type_error(key, "integer", *v), std::nullopt;
}

std::optional<double> Fields::opt_number(const std::string& key) {
  const json* v = get(key);
  if (!v) return std::nullopt;
  if (v->is_number()) return v->get<double>();
  return type_error(key, "number", *v), std::nullopt;
}

std::optional<std::chrono::milliseconds> Fields::opt_seconds(const std::string& key) {
  auto n = opt_number(key);
  if (!n) return std::nullopt;
  if (!(*n >= 0) || *n > kMaxSeconds) {
    return reject(key, "must be between 0 and " +
                           std::to_string(static_cast<std::int64_t>(kMaxSeconds)) + " seconds"),
           std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(*n * 1000));
}

std::optional<bool> Fields::opt_bool(const std::string& key) {
  const json* v = get(key);
  if (!v) return std::nullopt;
  if (v->is_boolean()) return v->get<bool>();
  return type_error(key, "boolean", *v), std::nullopt;
}

std::optional<std::vector<std::string>> Fields::opt_strings(const std::string& key) {
  const json* v = get(key);
  if (!v) return std::nullopt;
  if (!v->is_array()) return type_error(key, "array of strings", *v), std::nullopt;
  std::vector<std::string> out;
  out.reserve(v->size());
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    if (!e.is_string()) {
      return type_error(key + "[" + std::to_string(i) + "]", "string", e), std::nullopt;
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::optional<std::map<std::string, std::string>> Fields::opt_string_map(const std::string& key) {
  const json* v = get(key);
  if (!v) return std::nullopt;
  if (!v->is_object()) return type_error(key, "object of strings", *v), std::nullopt;
  std::map<std::string, std::string> out;
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it->is_string()) return type_error(key + "." + it.key(), "string", *it), std::nullopt;
    out.emplace(it.key(), it->get<std::string>());
  }
  return out;
}

Fields Fields::object(const std::string& key, bool required) {
  const json* v = get(key);
  if (!v) {
    if (required && !shared_->error) reject(key, "required field is missing");
    return Fields(nullptr, name(key), shared_);
  }
  if (!v->is_object()) {
    type_error(key, "object", *v);
    return Fields(nullptr, name(key), shared_);
  }
  return Fields(v, name(key), shared_);
}

std::vector<Fields> Fields::objects(const std::string& key) {
  std::vector<Fields> out;
  const json* v = get(key);
  if (!v) return out;
  if (!v->is_array()) return type_error(key, "array of objects", *v), out;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    std::string k = key + "[" + std::to_string(i) + "]";
    if (!e.is_object()) {
      type_error(k, "object", e);
      return {};
    }
    out.push_back(Fields(&e, name(k), shared_));
  }
  return out;
}

Status Fields::finish() {
  if (!shared_->error) {
    for (const Obj& o : shared_->objs) {
      for (auto it = o.obj->begin(); it != o.obj->end(); ++it) {
        if (!o.used.count(it.key())) {
          std::string field = o.path.empty() ? it.key() : o.path + "." + it.key();
          shared_->error = FieldError{field, "unknown field"};
          break;
        }
      }
      if (shared_->error) break;
    }
  }
  if (!shared_->error) return {};
  const FieldError& e = *shared_->error;
  return fail(Errc::invalid_argument, "api",
              e.field.empty() ? e.message : "field " + e.field + ": " + e.message);
}

}  // namespace lj::daemon
