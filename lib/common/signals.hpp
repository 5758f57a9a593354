// Signal names <-> numbers, one table for ljd (the API's "signal" field) and ljctl (--signal,
// "Killed (SIGKILL)"): the POSIX signals plus IO and WINCH, with this platform's numbers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lj {

// "SIGTERM", "TERM", "term", "15" -> 15; nullopt for an unknown name or a number outside
// 1..NSIG-1.
std::optional<int> parse_signal(std::string_view s);

// 15 -> "SIGTERM"; nullopt for a number without a name here (real-time signals, unknown).
std::optional<std::string> signal_name(int sig);

}  // namespace lj
