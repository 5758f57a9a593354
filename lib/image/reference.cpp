#include "image/reference.hpp"

namespace lj::image {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// distribution/reference's path component: [a-z0-9]+ joined by '.', '_', '__' or '-'+.
bool valid_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  for (std::size_t i = 0; i < c.size(); ++i) {
    char ch = c[i];
    if (is_lower_alnum(ch)) continue;
    if (ch == '.' || ch == '_' || ch == '-') {
      if (ch == '.' && !is_lower_alnum(c[i + 1])) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word && (i == 0 || (c != '.' && c != '-'))) return false;
  }
  return true;
}

bool valid_registry(std::string_view r) {
  if (r.empty() || r.size() > 255) return false;
  for (char c : r) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<Reference> Reference::parse(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return fail(Errc::invalid_argument, "image",
                "image reference \"" + std::string(text.substr(0, 200)) + "\" " + why);
  };
  if (text.empty()) return bad("is empty");
  Reference r;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    r.digest = LJ_TRY_CTX("image reference", Digest::parse(rest.substr(at + 1)));
    rest = rest.substr(0, at);
  }
  // A tag follows the last ':' that comes after the last '/' (a registry port comes before).
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    r.tag = std::string(rest.substr(colon + 1));
    if (!valid_tag(r.tag)) return bad("has an invalid tag \"" + r.tag + "\"");
    rest = rest.substr(0, colon);
  }
  auto first = rest.find('/');
  if (first != std::string_view::npos) {
    std::string_view head = rest.substr(0, first);
    if (head.find('.') != std::string_view::npos || head.find(':') != std::string_view::npos ||
        head == "localhost") {
      if (!valid_registry(head)) return bad("has an invalid registry \"" + std::string(head) + "\"");
      r.registry = std::string(head);
      rest = rest.substr(first + 1);
    }
  }
  if (r.registry.empty()) {
    r.registry = "docker.io";
    if (rest.find('/') == std::string_view::npos) r.repository = "library/";
  }
  r.repository += std::string(rest);
  std::string_view repo = r.repository;
  std::size_t i = 0;
  while (i <= repo.size()) {
    auto s = repo.find('/', i);
    if (s == std::string_view::npos) s = repo.size();
    if (!valid_component(repo.substr(i, s - i))) {
      return bad("has an invalid repository \"" + r.repository +
                 "\" (lowercase letters, digits, and . _ - between them)");
    }
    i = s + 1;
  }
  if (r.repository.size() > 255) return bad("has a repository name over 255 characters");
  if (r.tag.empty() && !r.digest) r.tag = "latest";
  return r;
}

std::string Reference::str() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

}  // namespace lj::image
