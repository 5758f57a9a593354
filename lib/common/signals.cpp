#include "signals.hpp"

#include <csignal>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace lj {

namespace {

struct SignalName {
  std::string_view name;  // without "SIG"
  int number;
};
// The POSIX set (but POLL, which FreeBSD lacks), IO and WINCH; numbers from <signal.h>.
constexpr SignalName kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},
    {"KILL", SIGKILL},     {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
    {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"SYS", SIGSYS},
};

}  // namespace

std::optional<int> parse_signal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && p == s.data() + s.size() && n > 0 && n < NSIG) return n;
    return std::nullopt;
  }
  std::string name(s);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::string_view bare = name;
  if (bare.starts_with("SIG")) bare.remove_prefix(3);
  for (const auto& sig : kSignals) {
    if (bare == sig.name) return sig.number;
  }
  return std::nullopt;
}

std::optional<std::string> signal_name(int sig) {
  for (const auto& s : kSignals) {
    if (s.number == sig) return "SIG" + std::string(s.name);
  }
  return std::nullopt;
}

}  // namespace lj
