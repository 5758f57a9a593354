// Semantic Versioning 2.0.0 (https://semver.org) and the version constraints Jailfiles write in
// `from NAME CONSTRAINT` (the seeds: "any constraints supported by gosemver").
//
// Versions are strict: MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], no leading zeros in numeric
// identifiers, no "v" prefix. They name overlay directories (root/<ns>/<name>/<version>), so
// str() is canonical and round-trips.
//
// Constraints, all desugared to a disjunction (||) of conjunctions of primitive comparators:
//   =V  !=V  >V  >=V  <V  <=V   V alone means =V
//   ~> V    pessimistic: ~> 1 and ~> 1.0 mean >=1.0.0 <2.0.0, ~> 1.2.3 means >=1.2.3 <1.3.0
//   ~V      tilde: ~1.2.3 >=1.2.3 <1.3.0, ~1.2 >=1.2.0 <1.3.0, ~1 >=1.0.0 <2.0.0
//   ^V      caret: the left-most non-zero part may not change (^1.2.3 <2.0.0, ^0.2.3 <0.3.0,
//           ^0.0.3 <0.0.4, ^0.0 <0.1.0, ^0 <1.0.0)
//   x X *   wildcards; a partial version is a wildcard range: 1.2 = 1.2.x = >=1.2.0 <1.3.0, and
//           >1.2 means >=1.3.0, <=1.2 means <1.3.0, !=1.2 means "not 1.2.x"
//   A - B   hyphen range (spaces around '-' required): 1.2 - 2.3.4 = >=1.2.0 <=2.3.4,
//           1.2.3 - 2.3 = >=1.2.3 <2.4.0
//   ,  or whitespace between terms: AND;   ||: OR
// An operator may be followed by spaces ("~> 1.0", ">= 1.2"). The empty constraint is an error.
//
// Pre-releases (node-semver's rule): a version with a pre-release tag satisfies a conjunction
// only if, besides satisfying every comparator, some comparator of that conjunction names a
// pre-release of the same MAJOR.MINOR.PATCH. So ">=1.2.3-beta" admits 1.2.3-rc.1 and 1.2.4 but
// not 1.2.4-alpha, and "^1.0" or "*" never pick a pre-release: a release line opts in explicitly.
//
// Errors (Errc::invalid_argument, domain "overlay") carry the 1-based column of the offending
// character: "bad constraint at column 5: expected a version".
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace lj::overlay {

struct Version {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers, empty for a release
  std::vector<std::string> build;       // build metadata: kept, ignored by precedence

  // A version is a directory name in the store: longer than this it would not fit a path
  // component (NAME_MAX 255 with room for the name's own decoration) and fail deep inside a
  // build as a system error; refused up front instead.
  static constexpr std::size_t kMaxLength = 128;

  // Parses a complete version; anything else (partial, prefixed, trailing text, longer than
  // kMaxLength) is an error.
  static Result<Version> parse(std::string_view text);

  bool is_prerelease() const { return !prerelease.empty(); }
  // The canonical text, e.g. "1.2.3-rc.1+build.5".
  std::string str() const;

  // Exact identity, build metadata included (two versions that differ only in build metadata
  // have equal precedence but are different overlay directories).
  bool operator==(const Version&) const = default;
};

// Precedence (semver.org section 11): numeric MAJOR.MINOR.PATCH, then a release is above its
// pre-releases, then identifier by identifier (numeric < alphanumeric, numeric compared as
// numbers, others in ASCII order, a shorter list is lower). Build metadata is ignored.
std::strong_ordering compare(const Version& a, const Version& b);

// A parsed constraint. Immutable, cheap to copy, safe to share between threads.
class Constraint {
 public:
  static Result<Constraint> parse(std::string_view text);

  bool matches(const Version& v) const;
  // The text it was parsed from.
  const std::string& str() const { return text_; }

  // One primitive comparison. `outside` is the negation of a wildcard range: v < lo || v >= hi
  // (what !=1.2 means); every other op uses `v` only.
  struct Comparator {
    enum class Op { eq, ne, gt, ge, lt, le, outside, none };  // none: matches nothing (>*)
    Op op;
    Version v;
    Version hi;  // only for outside
    bool test(const Version& x) const;
  };
  // Disjunction of conjunctions, as desugared: exposed for tests and diagnostics.
  const std::vector<std::vector<Comparator>>& sets() const { return sets_; }

 private:
  std::string text_;
  std::vector<std::vector<Comparator>> sets_;
};

// The highest version (by precedence) that satisfies `c`, or nullopt. Among versions of equal
// precedence (differing only in build metadata) the one whose text sorts last wins, so the
// answer does not depend on the order of `versions`.
std::optional<Version> select_best(const Constraint& c, std::span<const Version> versions);

}  // namespace lj::overlay
