#include "common/signals.hpp"

#include <csignal>

#include <gtest/gtest.h>

namespace lj {
namespace {

TEST(Signals, NameShortNameAndNumberAllParse) {
  EXPECT_EQ(parse_signal("SIGTERM"), SIGTERM);
  EXPECT_EQ(parse_signal("TERM"), SIGTERM);
  EXPECT_EQ(parse_signal("term"), SIGTERM);
  EXPECT_EQ(parse_signal("SigKill"), SIGKILL);
  EXPECT_EQ(parse_signal("15"), 15);
  EXPECT_EQ(parse_signal("WINCH"), SIGWINCH);
  EXPECT_EQ(parse_signal("SIGSYS"), SIGSYS);
}

TEST(Signals, UnknownNamesAndNumbersAreRefused) {
  EXPECT_EQ(parse_signal(""), std::nullopt);
  EXPECT_EQ(parse_signal("SIG"), std::nullopt);
  EXPECT_EQ(parse_signal("BOGUS"), std::nullopt);
  EXPECT_EQ(parse_signal("SIGSIGTERM"), std::nullopt);
  EXPECT_EQ(parse_signal("0"), std::nullopt);
  EXPECT_EQ(parse_signal(std::to_string(NSIG)), std::nullopt);
  EXPECT_EQ(parse_signal("-9"), std::nullopt);
  EXPECT_EQ(parse_signal("9x"), std::nullopt);
  EXPECT_EQ(parse_signal("99999999999999999999"), std::nullopt);
}

TEST(Signals, EveryNameRoundTrips) {
  // Both directions agree for every number that has a name; the ljd and ljctl tables were two
  // and disagreed (ljd knew 11 names).
  int named = 0;
  for (int sig = 1; sig < NSIG; ++sig) {
    auto name = signal_name(sig);
    if (!name) continue;
    ++named;
    EXPECT_TRUE(name->starts_with("SIG")) << *name;
    EXPECT_EQ(parse_signal(*name), sig) << *name;
    EXPECT_EQ(parse_signal(name->substr(3)), sig) << *name;
  }
  EXPECT_GE(named, 28);
  for (const char* posix :
       {"HUP",  "INT",  "QUIT", "ILL",  "TRAP", "ABRT", "BUS",    "FPE",  "KILL",
        "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "CHLD",   "CONT", "STOP",
        "TSTP", "TTIN", "TTOU", "URG",  "XCPU", "XFSZ", "VTALRM", "PROF", "SYS"}) {
    EXPECT_TRUE(parse_signal(posix)) << posix;
  }
  EXPECT_EQ(signal_name(0), std::nullopt);
  EXPECT_EQ(signal_name(NSIG), std::nullopt);
}

}  // namespace
}  // namespace lj
