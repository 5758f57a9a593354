// Networks and leases in the index (migrations 004, 005): a lease goes in with its jail's row, is
// never handed out twice, outlives the exit record until the daemon releases it (after the
// teardown removed the jail's rules), and goes with a removal or at recovery once the jail ended.
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

TEST(IndexNetworks, LeasesOutliveTheExitUntilReleased) {
  Index idx = open_memory();
  ASSERT_TRUE(idx.insert_network(network("app"), std::nullopt));
  auto a = idx.insert_jail(jail("a"), {lease("app", "10.200.0.2")});
  ASSERT_TRUE(a);
  auto started = idx.transition(a->id, JailState::running, ProcessHandle{42, 1, "", 0});
  ASSERT_TRUE(started) << started.error().what();
  // The started event carries the address.
  EXPECT_NE(started->data.find("10.200.0.2"), std::string::npos) << started->data;
  EXPECT_EQ(idx.list_leases("app").value().size(), 1u);
  // The exit record keeps it: the jail's rules are still on the host until its teardown is done.
  ASSERT_TRUE(idx.transition(a->id, JailState::exited, ExitRecord{.exit_code = 0}));
  EXPECT_EQ(idx.jail_leases(a->id).value().size(), 1u);
  EXPECT_EQ(idx.insert_jail(jail("early"), {lease("app", "10.200.0.2")}).error().errc(),
            Errc::conflict);
  // Released after the teardown: free again.
  EXPECT_EQ(idx.release_leases(a->id).value(), 1);
  EXPECT_TRUE(idx.list_leases("app").value().empty());
  EXPECT_TRUE(idx.insert_jail(jail("b"), {lease("app", "10.200.0.2")}));
  // A create rolled back (row deleted) takes its leases with it.
  auto c = idx.insert_jail(jail("c"), {lease("app", "10.200.0.3")});
  ASSERT_TRUE(c);
  ASSERT_TRUE(idx.delete_jail(c->id));
  EXPECT_EQ(idx.list_leases("app").value().size(), 1u);
  EXPECT_TRUE(idx.integrity_check());
}

TEST(IndexNetworks, RemovalAndRecoveryReleaseLeases) {
  Index idx = open_memory();
  ASSERT_TRUE(idx.insert_network(network("app"), std::nullopt));
  // A jail created, never started, then removed: the removal frees its address.
  auto never = idx.insert_jail(jail("never"), {lease("app", "10.200.0.2")});
  ASSERT_TRUE(never);
  ASSERT_TRUE(idx.transition(never->id, JailState::created));
  ASSERT_TRUE(idx.transition(never->id, JailState::removed));
  EXPECT_TRUE(idx.jail_leases(never->id).value().empty());
  // Recovery: the leases of ended jails go, those of created and running ones stay.
  auto ended = idx.insert_jail(jail("ended"), {lease("app", "10.200.0.3")});
  auto waits = idx.insert_jail(jail("waits"), {lease("app", "10.200.0.4")});
  auto runs = idx.insert_jail(jail("runs"), {lease("app", "10.200.0.5")});
  ASSERT_TRUE(ended && waits && runs);
  ASSERT_TRUE(idx.transition(ended->id, JailState::running, ProcessHandle{42, 1, "", 0}));
  ASSERT_TRUE(idx.transition(ended->id, JailState::exited, ExitRecord{.lost = true}));
  ASSERT_TRUE(idx.transition(waits->id, JailState::created));
  ASSERT_TRUE(idx.transition(runs->id, JailState::running, ProcessHandle{43, 1, "", 0}));
  EXPECT_EQ(idx.release_ended_leases().value(), 1);
  auto left = idx.list_leases("app").value();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].address4 == "10.200.0.4" ? left[1].address4 : left[0].address4, "10.200.0.5");
  EXPECT_TRUE(idx.integrity_check());
}

}  // namespace
}  // namespace lj::index
