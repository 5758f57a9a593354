// The lightjail root every lj* tool and ljd work under: $LIGHTJAIL_ROOT, or /usr/local/lj when it
// is unset or empty (seeds 000: "MUST be read from the LIGHTJAIL_ROOT environment variable by all
// lj* tools, /usr/local/lj MUST be used if the variable is empty"). Programs read it (main(),
// overlay::Root::from_env); the libraries are given paths and read no environment.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace lj {

inline constexpr std::string_view kRootEnv = "LIGHTJAIL_ROOT";
inline constexpr std::string_view kDefaultRoot = "/usr/local/lj";

inline std::filesystem::path root_from_env() {
  const char* env = std::getenv(std::string(kRootEnv).c_str());
  if (env == nullptr || *env == '\0') return std::filesystem::path(kDefaultRoot);
  return std::filesystem::path(env);
}

}  // namespace lj
