// Request bodies: the bytes of a POST /v1/jails or POST /v1/builds body through the daemon's
// strict decoders. Checked: a body is either decoded or refused with an invalid_argument; a
// decoded jail request re-encodes to a spec that decodes again to the same thing (a created jail
// is started later from that stored spec), and its JailSpec carries no NUL into argv or env.
#include <cstdint>
#include <string>

#include "check.hpp"
#include "daemon/jail_request.hpp"
#include "daemon/json_fields.hpp"

using namespace lj::daemon;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  auto doc = parse_body(body);
  if (!doc) {
    LJ_FUZZ_CHECK(doc.error().errc() == lj::Errc::invalid_argument, "%s",
                  doc.error().what().c_str());
    return 0;
  }
  Config cfg;
  cfg.default_world = "bookworm";
  std::string field;
  auto c = decode_create(*doc, cfg, &field);
  if (!c) {
    LJ_FUZZ_CHECK(c.error().errc() == lj::Errc::invalid_argument, "%s", c.error().what().c_str());
  } else {
    nlohmann::json stored = encode_create(*c);
    std::string text = stored.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    auto again_doc = parse_body(text);
    LJ_FUZZ_CHECK(again_doc.has_value(), "stored spec is not JSON: %s", text.c_str());
    auto again = decode_create(*again_doc, cfg, nullptr);
    LJ_FUZZ_CHECK(again.has_value(), "stored spec does not decode: %s: %s", text.c_str(),
                  again.error().what().c_str());
    LJ_FUZZ_CHECK(encode_create(*again) == stored, "stored spec changes on a round trip: %s",
                  text.c_str());
    auto spec = make_spec(*c, "j-fuzz", {});
    for (const auto& a : spec.argv) LJ_FUZZ_CHECK(a.find('\0') == std::string::npos, "NUL in argv");
    for (const auto& e : spec.env) {
      LJ_FUZZ_CHECK(
          e.find('\0') == std::string::npos && e.find('=') != std::string::npos && e.front() != '=',
          "bad env entry");
    }
    LJ_FUZZ_CHECK(!spec.workdir.empty() && spec.workdir.front() == '/', "relative workdir");
  }
  auto b = decode_build(*doc, &field);
  if (!b) {
    LJ_FUZZ_CHECK(b.error().errc() == lj::Errc::invalid_argument, "%s", b.error().what().c_str());
  } else {
    LJ_FUZZ_CHECK(b->context.empty() != b->jailfile.empty(), "context and jailfile");
  }
  return 0;
}
