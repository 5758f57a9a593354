// Base64 (RFC 4648, the standard alphabet, with padding): how a stream record carries bytes that
// are not UTF-8 text (a jail's binary output), since JSON strings hold only Unicode.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lj {

std::string base64_encode(std::string_view bytes);
// nullopt for text that is not base64 (a character outside the alphabet, a bad length or padding).
std::optional<std::string> base64_decode(std::string_view text);

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF),
// i.e. whether a JSON string can carry it unchanged.
bool is_utf8(std::string_view s);

}  // namespace lj
