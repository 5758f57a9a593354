// The network the rule-text tests (pf_rules_test, ruleset_test) render: one IPv4 /24 on a bridge.
#pragma once

#include "net/address.hpp"
#include "net/network.hpp"

namespace lj::net::test {

inline NetworkSpec net(bool internal = false) {
  NetworkSpec n;
  n.name = "web";
  n.bridge = "ljbr-0000abcd";
  n.subnet4 = *Prefix::parse("10.88.0.0/24");
  n.gateway4 = default_gateway(n.subnet4);
  n.internal = internal;
  return n;
}

}  // namespace lj::net::test
