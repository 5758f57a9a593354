// The Jailfile parser on arbitrary text. Beyond "no crash, no UB, no leak": what it accepts keeps
// the promises of jailfile.hpp (a namespaced name, a semver version, a parseable `from`
// constraint, an absolute normalized copy destination, a script that starts with "#!"), and what
// it refuses carries a position inside the text.
#include <algorithm>
#include <cstdint>
#include <string_view>

#include "build/jailfile.hpp"
#include "check.hpp"
#include "overlay/semver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  lj::build::ParseOptions opts;
  opts.default_world = "bookworm";
  opts.version_suffix = "fuzz";
  auto jf = lj::build::parse_jailfile(text, opts);
  if (!jf) {
    const auto& e = jf.error();
    int lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    LJ_FUZZ_CHECK(e.pos.line >= 0 && e.pos.line <= lines + 1, "line %d of %d", e.pos.line, lines);
    LJ_FUZZ_CHECK(!e.message.empty(), "an error without a message");
    (void)e.what();
    return 0;
  }
  LJ_FUZZ_CHECK(jf->name.find('/') != std::string::npos, "name without a slash: %s",
                jf->name.c_str());
  LJ_FUZZ_CHECK(lj::overlay::Version::parse(jf->version).has_value(), "bad version %s",
                jf->version.c_str());
  if (jf->from) {
    LJ_FUZZ_CHECK(lj::overlay::Constraint::parse(jf->from->constraint).has_value(),
                  "bad from constraint %s", jf->from->constraint.c_str());
  }
  if (jf->copy_dest) {
    const std::string& d = *jf->copy_dest;
    LJ_FUZZ_CHECK(!d.empty() && d.front() == '/', "copy destination not absolute: %s", d.c_str());
    LJ_FUZZ_CHECK(d.find("/../") == std::string::npos && !d.ends_with("/..") &&
                      d.find('\0') == std::string::npos,
                  "copy destination escapes: %s", d.c_str());
  }
  if (!jf->script.empty()) {
    LJ_FUZZ_CHECK(jf->script.starts_with("#!"), "script does not start with #!");
  }
  return 0;
}
