#include "overlay/semver.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

namespace lj::overlay {
namespace {

using Op = Constraint::Comparator::Op;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ident_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}
bool is_space(char c) {
  return c == ' ' || c == '\t';
}
bool is_wildcard(char c) {
  return c == 'x' || c == 'X' || c == '*';
}

// A version as written in a constraint: up to three numeric parts, the rest wildcards or absent.
struct Partial {
  int parts = 0;  // how many leading numeric parts were given (0..3)
  std::uint64_t n[3] = {0, 0, 0};
  std::vector<std::string> prerelease;
  std::vector<std::string> build;

  // The lowest version the partial covers (1.2 -> 1.2.0).
  Version low() const {
    return Version{n[0], n[1], n[2], parts == 3 ? prerelease : std::vector<std::string>{}, {}};
  }
};

// A cursor over one input with the first error it met. Columns are 1-based.
class Parser {
 public:
  Parser(std::string_view text, std::string_view what) : s_(text), what_(what) {}

  bool at_end() const { return i_ >= s_.size(); }
  char peek(std::size_t ahead = 0) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }
  std::size_t pos() const { return i_; }
  void set_pos(std::size_t p) { i_ = p; }
  bool skip_spaces() {
    std::size_t start = i_;
    while (!at_end() && is_space(s_[i_])) ++i_;
    return i_ != start;
  }
  bool eat(std::string_view tok) {
    if (s_.substr(i_, tok.size()) != tok) return false;
    i_ += tok.size();
    return true;
  }

  // Records the error at the current position; always returns false so callers can
  // `return error(...)`.
  bool error(std::string_view msg) { return error_at(i_, msg); }
  bool error_at(std::size_t at, std::string_view msg) {
    if (err_.empty()) {
      err_ = "bad " + std::string(what_) + " at column " + std::to_string(at + 1) + ": " +
             std::string(msg);
    }
    return false;
  }
  Error take_error() const { return Error(Errc::invalid_argument, "overlay", err_); }

  bool number(std::uint64_t* out) {
    std::size_t start = i_;
    while (!at_end() && is_digit(s_[i_])) ++i_;
    if (i_ == start) return error("expected a number");
    if (i_ - start > 1 && s_[start] == '0') return error_at(start, "leading zero in a number");
    auto [p, ec] = std::from_chars(s_.data() + start, s_.data() + i_, *out);
    // The maximum is refused too: ranges are built by adding one to a part.
    if (ec != std::errc() || *out == std::numeric_limits<std::uint64_t>::max()) {
      return error_at(start, "number too large");
    }
    return true;
  }

  // Dot-separated identifiers after '-' or '+'; numeric pre-release identifiers may not have a
  // leading zero (semver 2.0 item 9), build identifiers may (item 10).
  bool identifiers(std::vector<std::string>* out, bool prerelease) {
    do {
      std::size_t start = i_;
      while (!at_end() && is_ident_char(s_[i_])) ++i_;
      if (i_ == start) return error("expected an identifier [0-9A-Za-z-]");
      std::string_view id = s_.substr(start, i_ - start);
      bool numeric = std::all_of(id.begin(), id.end(), is_digit);
      if (prerelease && numeric && id.size() > 1 && id[0] == '0') {
        return error_at(start, "leading zero in a numeric pre-release identifier");
      }
      out->emplace_back(id);
    } while (eat("."));
    return true;
  }

  bool partial(Partial* p) {
    if (at_end() || !(is_digit(peek()) || is_wildcard(peek()))) {
      return error("expected a version");
    }
    bool wild = false;
    for (int k = 0; k < 3; ++k) {
      if (k > 0 && !eat(".")) break;
      if (is_wildcard(peek())) {
        wild = true;
        ++i_;
        continue;
      }
      if (wild) {
        return is_digit(peek()) ? error("a number cannot follow a wildcard")
                                : error("expected a number or a wildcard");
      }
      if (!is_digit(peek())) return error("expected a number or a wildcard");
      if (!number(&p->n[k])) return false;
      p->parts = k + 1;
    }
    if (peek() == '-') {
      if (p->parts != 3) return error("a pre-release needs a full MAJOR.MINOR.PATCH version");
      ++i_;
      if (!identifiers(&p->prerelease, true)) return false;
    }
    if (peek() == '+') {
      if (p->parts != 3) return error("build metadata needs a full MAJOR.MINOR.PATCH version");
      ++i_;
      if (!identifiers(&p->build, false)) return false;
    }
    return true;
  }

 private:
  std::string_view s_;
  std::string what_;  // owned: callers pass temporaries ("version \"...\"")
  std::size_t i_ = 0;
  std::string err_;
};

int compare_identifiers(const std::string& a, const std::string& b) {
  bool an = std::all_of(a.begin(), a.end(), is_digit);
  bool bn = std::all_of(b.begin(), b.end(), is_digit);
  if (an && bn) {  // no leading zeros, so the longer number is the larger one
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
  }
  if (an != bn) return an ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c == 0 ? 0 : 1);
}

bool same_triple(const Version& a, const Version& b) {
  return a.major == b.major && a.minor == b.minor && a.patch == b.patch;
}

Version bump_major(const Partial& p) {
  return Version{p.n[0] + 1, 0, 0, {}, {}};
}
Version bump_minor(const Partial& p) {
  return Version{p.n[0], p.n[1] + 1, 0, {}, {}};
}
Version bump_patch(const Partial& p) {
  return Version{p.n[0], p.n[1], p.n[2] + 1, {}, {}};
}
// The first version past a partial: 1 -> 2.0.0, 1.2 -> 1.3.0.
Version bump_partial(const Partial& p) {
  return p.parts == 1 ? bump_major(p) : bump_minor(p);
}

using Set = std::vector<Constraint::Comparator>;
Constraint::Comparator cmp(Op op, Version v, Version hi = {}) {
  return Constraint::Comparator{op, std::move(v), std::move(hi)};
}

enum class Prefix { eq, ne, gt, ge, lt, le, tilde, pessimistic, caret };

void desugar(Prefix op, const Partial& p, Set* out) {
  Version lo = p.low();
  if (p.parts == 0) {  // '*' with any operator
    if (op == Prefix::gt || op == Prefix::lt || op == Prefix::ne) out->push_back(cmp(Op::none, lo));
    return;  // everything else: no restriction
  }
  switch (op) {
    case Prefix::eq:
      if (p.parts == 3) return out->push_back(cmp(Op::eq, lo));
      out->push_back(cmp(Op::ge, lo));
      return out->push_back(cmp(Op::lt, bump_partial(p)));
    case Prefix::ne:
      if (p.parts == 3) return out->push_back(cmp(Op::ne, lo));
      return out->push_back(cmp(Op::outside, lo, bump_partial(p)));
    case Prefix::gt:
      return out->push_back(p.parts == 3 ? cmp(Op::gt, lo) : cmp(Op::ge, bump_partial(p)));
    case Prefix::ge:
      return out->push_back(cmp(Op::ge, lo));
    case Prefix::lt:
      return out->push_back(cmp(Op::lt, lo));
    case Prefix::le:
      return out->push_back(p.parts == 3 ? cmp(Op::le, lo) : cmp(Op::lt, bump_partial(p)));
    case Prefix::tilde:
      out->push_back(cmp(Op::ge, lo));
      return out->push_back(cmp(Op::lt, p.parts == 1 ? bump_major(p) : bump_minor(p)));
    case Prefix::pessimistic:  // drop the last given part, bump the one before
      out->push_back(cmp(Op::ge, lo));
      return out->push_back(cmp(Op::lt, p.parts == 3 ? bump_minor(p) : bump_major(p)));
    case Prefix::caret: {
      out->push_back(cmp(Op::ge, lo));
      Version hi;
      if (p.n[0] > 0 || p.parts == 1) {
        hi = bump_major(p);
      } else if (p.n[1] > 0 || p.parts == 2) {
        hi = bump_minor(p);
      } else {
        hi = bump_patch(p);
      }
      return out->push_back(cmp(Op::lt, std::move(hi)));
    }
  }
}

// term := [op] spaces* partial | partial spaces+ '-' spaces+ partial
bool parse_term(Parser& ps, Set* out) {
  static constexpr std::pair<std::string_view, Prefix> kOps[] = {
      {"~>", Prefix::pessimistic}, {">=", Prefix::ge},   {"<=", Prefix::le}, {"!=", Prefix::ne},
      {"==", Prefix::eq},          {">", Prefix::gt},    {"<", Prefix::lt},  {"=", Prefix::eq},
      {"~", Prefix::tilde},        {"^", Prefix::caret},
  };
  std::optional<Prefix> op;
  for (const auto& [tok, pre] : kOps) {
    if (ps.eat(tok)) {
      op = pre;
      break;
    }
  }
  if (op) ps.skip_spaces();
  Partial a;
  if (!ps.partial(&a)) return false;
  if (!op) {
    std::size_t save = ps.pos();
    if (ps.skip_spaces() && ps.eat("-")) {
      if (!ps.skip_spaces()) return ps.error("expected a space after '-' in a hyphen range");
      Partial b;
      if (!ps.partial(&b)) return false;
      if (a.parts == 0 && b.parts == 0) return true;
      if (a.parts > 0) out->push_back(cmp(Op::ge, a.low()));
      if (b.parts == 3) {
        out->push_back(cmp(Op::le, b.low()));
      } else if (b.parts > 0) {
        out->push_back(cmp(Op::lt, bump_partial(b)));
      }
      return true;
    }
    ps.set_pos(save);
  }
  desugar(op.value_or(Prefix::eq), a, out);
  return true;
}

// and_set := term ((spaces* ',' spaces* | spaces+) term)*
bool parse_and_set(Parser& ps, Set* out) {
  if (!parse_term(ps, out)) return false;
  for (;;) {
    std::size_t save = ps.pos();
    bool spaced = ps.skip_spaces();
    if (ps.eat(",")) {
      ps.skip_spaces();
    } else if (!spaced || ps.at_end() || ps.peek() == '|') {
      ps.set_pos(save);
      return true;
    }
    if (!parse_term(ps, out)) return false;
  }
}

}  // namespace

std::strong_ordering compare(const Version& a, const Version& b) {
  if (auto c = a.major <=> b.major; c != 0) return c;
  if (auto c = a.minor <=> b.minor; c != 0) return c;
  if (auto c = a.patch <=> b.patch; c != 0) return c;
  if (a.prerelease.empty() || b.prerelease.empty()) {
    return b.prerelease.size() == a.prerelease.size() ? std::strong_ordering::equal
           : a.prerelease.empty()                     ? std::strong_ordering::greater
                                                      : std::strong_ordering::less;
  }
  std::size_t n = std::min(a.prerelease.size(), b.prerelease.size());
  for (std::size_t k = 0; k < n; ++k) {
    int c = compare_identifiers(a.prerelease[k], b.prerelease[k]);
    if (c != 0) return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
  }
  return a.prerelease.size() <=> b.prerelease.size();
}

Result<Version> Version::parse(std::string_view text) {
  if (text.size() > kMaxLength) {
    return fail(Errc::invalid_argument, "overlay",
                "bad version \"" + std::string(text.substr(0, 16)) + "...\" at column " +
                    std::to_string(kMaxLength + 1) + ": longer than " +
                    std::to_string(kMaxLength) + " bytes");
  }
  Parser ps(text, "version \"" + std::string(text) + "\"");
  Partial p;
  if (!ps.partial(&p)) return fail(ps.take_error());
  if (p.parts != 3) {
    ps.error("expected a full MAJOR.MINOR.PATCH version without wildcards");
    return fail(ps.take_error());
  }
  if (!ps.at_end()) {
    ps.error("unexpected character");
    return fail(ps.take_error());
  }
  return Version{p.n[0], p.n[1], p.n[2], std::move(p.prerelease), std::move(p.build)};
}

std::string Version::str() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  for (std::size_t k = 0; k < prerelease.size(); ++k) s += (k == 0 ? "-" : ".") + prerelease[k];
  for (std::size_t k = 0; k < build.size(); ++k) s += (k == 0 ? "+" : ".") + build[k];
  return s;
}

bool Constraint::Comparator::test(const Version& x) const {
  auto c = compare(x, v);
  switch (op) {
    case Op::eq:
      return c == 0;
    case Op::ne:
      return c != 0;
    case Op::gt:
      return c > 0;
    case Op::ge:
      return c >= 0;
    case Op::lt:
      return c < 0;
    case Op::le:
      return c <= 0;
    case Op::outside:
      return c < 0 || compare(x, hi) >= 0;
    case Op::none:
      return false;
  }
  return false;
}

Result<Constraint> Constraint::parse(std::string_view text) {
  Parser ps(text, "constraint");
  Constraint c;
  c.text_ = std::string(text);
  ps.skip_spaces();
  for (;;) {
    Set set;
    if (!parse_and_set(ps, &set)) return fail(ps.take_error());
    c.sets_.push_back(std::move(set));
    ps.skip_spaces();
    if (ps.at_end()) break;
    if (!ps.eat("||")) {
      ps.error("expected ',', '||' or the end of the constraint");
      return fail(ps.take_error());
    }
    ps.skip_spaces();
  }
  return c;
}

bool Constraint::matches(const Version& v) const {
  for (const auto& set : sets_) {
    bool all = std::all_of(set.begin(), set.end(), [&](const Comparator& k) { return k.test(v); });
    if (!all) continue;
    if (!v.is_prerelease()) return true;
    // node-semver's rule: a pre-release is only eligible when the set names one of its line.
    bool named = std::any_of(set.begin(), set.end(), [&](const Comparator& k) {
      return (k.v.is_prerelease() && same_triple(k.v, v)) ||
             (k.op == Op::outside && k.hi.is_prerelease() && same_triple(k.hi, v));
    });
    if (named) return true;
  }
  return false;
}

std::optional<Version> select_best(const Constraint& c, std::span<const Version> versions) {
  const Version* best = nullptr;
  for (const auto& v : versions) {
    if (!c.matches(v)) continue;
    if (best == nullptr) {
      best = &v;
      continue;
    }
    auto o = compare(v, *best);
    if (o > 0 || (o == 0 && v.str() > best->str())) best = &v;
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

}  // namespace lj::overlay
