// Networks and leases in the index (migration 004): a lease goes in with its jail's row, is never
// handed out twice, and goes with the state change that ends the jail, in the same transaction.
#include <gtest/gtest.h>

#include "helpers.hpp"

namespace lj::index {
namespace {

NetworkRow network(std::string name, std::string subnet = "10.200.0.0/24") {
  NetworkRow n;
  n.name = std::move(name);
  n.subnet4 = subnet;
  n.gateway4 = "10.200.0.1";
  return n;
}

LeaseRow lease(std::string net, std::string ip) {
  LeaseRow l;
  l.network = std::move(net);
  l.address4 = std::move(ip);
  return l;
}

TEST(IndexNetworks, CreateListGetDeleteWithEvents) {
  Index idx = open_memory();
  auto made = idx.insert_network(network("app"), 1001);
  ASSERT_TRUE(made) << made.error().what();
  EXPECT_EQ(made->second.type, "network.created");
  EXPECT_EQ(made->first.id.rfind("n-", 0), 0u);
  EXPECT_EQ(idx.insert_network(network("app"), 1001).error().errc(), Errc::exists);
  EXPECT_EQ(idx.list_networks().value().size(), 1u);
  EXPECT_EQ(idx.get_network("app").value().subnet4, "10.200.0.0/24");
  auto gone = idx.delete_network("app", 1001);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->type, "network.removed");
  EXPECT_EQ(idx.get_network("app").error().errc(), Errc::not_found);
  EXPECT_EQ(idx.delete_network("app", 1001).error().errc(), Errc::not_found);
}

TEST(IndexNetworks, LeasesGoInWithTheRowAndAreNeverHandedOutTwice) {
  Index idx = open_memory();
  ASSERT_TRUE(idx.insert_network(network("app"), std::nullopt));
  auto a = idx.insert_jail(jail("a"), {lease("app", "10.200.0.2")});
  ASSERT_TRUE(a) << a.error().what();
  EXPECT_EQ(idx.jail_leases(a->id).value().at(0).address4, "10.200.0.2");
  // The same address again: refused, and the jail's row is not written either.
  auto b = idx.insert_jail(jail("b"), {lease("app", "10.200.0.2")});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().errc(), Errc::conflict);
  EXPECT_EQ(idx.get_jail("b").error().errc(), Errc::not_found);
  // A lease on a network that does not exist: refused (foreign key).
  EXPECT_FALSE(idx.insert_jail(jail("c"), {lease("nope", "10.200.0.3")}));
  EXPECT_EQ(idx.get_jail("c").error().errc(), Errc::not_found);
  // A network with leases cannot go.
  EXPECT_EQ(idx.delete_network("app", std::nullopt).error().errc(), Errc::conflict);
}

TEST(IndexNetworks, TheStateChangeThatEndsAJailReleasesItsLeases) {
  Index idx = open_memory();
  ASSERT_TRUE(idx.insert_network(network("app"), std::nullopt));
  auto a = idx.insert_jail(jail("a"), {lease("app", "10.200.0.2")});
  ASSERT_TRUE(a);
  auto started = idx.transition(a->id, JailState::running, ProcessHandle{42, 1, "", 0});
  ASSERT_TRUE(started) << started.error().what();
  // The started event carries the address.
  EXPECT_NE(started->data.find("10.200.0.2"), std::string::npos) << started->data;
  EXPECT_EQ(idx.list_leases("app").value().size(), 1u);
  ASSERT_TRUE(idx.transition(a->id, JailState::exited, ExitRecord{.exit_code = 0}));
  EXPECT_TRUE(idx.list_leases("app").value().empty());
  EXPECT_TRUE(idx.jail_leases(a->id).value().empty());
  // Free again.
  EXPECT_TRUE(idx.insert_jail(jail("b"), {lease("app", "10.200.0.2")}));
  // A create rolled back (row deleted) takes its leases with it.
  auto c = idx.insert_jail(jail("c"), {lease("app", "10.200.0.3")});
  ASSERT_TRUE(c);
  ASSERT_TRUE(idx.delete_jail(c->id));
  EXPECT_EQ(idx.list_leases("app").value().size(), 1u);
  EXPECT_TRUE(idx.integrity_check());
}

}  // namespace
}  // namespace lj::index
