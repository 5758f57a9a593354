// Semver versions and constraints. The input's first line is a constraint, every further line a
// version. Checked: a parsed version prints canonically and parses back to itself; precedence is
// a total order (antisymmetric, consistent with ==); select_best picks a matching version that no
// other matching version outranks.
#include <cstdint>
#include <string_view>
#include <vector>

#include "check.hpp"
#include "overlay/semver.hpp"

using lj::overlay::compare;
using lj::overlay::Constraint;
using lj::overlay::Version;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t nl = in.find('\n');
  std::string_view ctext = in.substr(0, nl);
  std::vector<Version> versions;
  while (nl != std::string_view::npos && versions.size() < 64) {
    in.remove_prefix(nl + 1);
    nl = in.find('\n');
    auto v = Version::parse(in.substr(0, nl));
    if (!v) continue;
    auto again = Version::parse(v->str());
    LJ_FUZZ_CHECK(again && *again == *v, "%s does not round-trip", v->str().c_str());
    versions.push_back(std::move(*v));
  }
  for (const auto& a : versions) {
    for (const auto& b : versions) {
      auto ab = compare(a, b), ba = compare(b, a);
      LJ_FUZZ_CHECK((ab < 0) == (ba > 0) && (ab == 0) == (ba == 0), "%s vs %s not antisymmetric",
                    a.str().c_str(), b.str().c_str());
      if (a == b) LJ_FUZZ_CHECK(ab == 0, "%s != itself", a.str().c_str());
    }
  }
  auto c = Constraint::parse(ctext);
  if (!c) return 0;
  auto c2 = Constraint::parse(c->str());
  LJ_FUZZ_CHECK(c2.has_value(), "constraint `%s` does not parse again", c->str().c_str());
  auto best = lj::overlay::select_best(*c, versions);
  for (const auto& v : versions) {
    bool m = c->matches(v);
    LJ_FUZZ_CHECK(m == c2->matches(v), "reparsed constraint disagrees on %s", v.str().c_str());
    if (m) {
      LJ_FUZZ_CHECK(best.has_value(), "%s matches but nothing was selected", v.str().c_str());
      LJ_FUZZ_CHECK(compare(v, *best) <= 0, "%s outranks the selected %s", v.str().c_str(),
                    best->str().c_str());
    }
  }
  if (best) LJ_FUZZ_CHECK(c->matches(*best), "selected %s does not match", best->str().c_str());
  return 0;
}
