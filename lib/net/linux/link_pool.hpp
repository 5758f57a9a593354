// Jails' network namespaces made ahead, each with the jail end of its first link waiting in it.
// Making a namespace (copy_net_ns) and a veth pair are the dearest steps of a jail's start on a
// network: a thread of the Host makes a few ahead, so that attach() only puts the waiting host
// end on the network's bridge (under its own name, the jail's link name as its alias), and gives
// the jail end its addresses (bench/net: the figures before and after are in docs/networking.md).
//
// A slot: a new namespace (loopback up) holding `eth0`, up, whose peer waits in the host's
// namespace as `ljvp-XXXXXXXX` (kPoolPrefix), down and on no bridge; a netlink socket in the
// namespace, for the addresses. Idle slots hold no process: when ljd dies, its descriptors close,
// the kernel frees the namespaces and with them both ends of their links.
//
// Threads: take(), claim(), names() and stop() from any thread; the pool's own thread makes the
// slots, in the namespace of the thread that called start().
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/fd.hpp"
#include "net/linux/links.hpp"

namespace lj::net::linux_links {

// The host ends of links waiting in the pool (5 + 8 characters).
inline constexpr std::string_view kPoolPrefix = "ljvp-";
// The name of a jail's link in its namespace when the pool made it.
inline constexpr std::string_view kPooledJailEnd = "eth0";

class LinkPool {
 public:
  struct Slot {
    std::pair<dev_t, ino_t> ns{};  // the namespace's identity (claim finds the slot by it)
    std::string host_end;          // kPoolPrefix + 8 random characters
    int host_index = 0;            // its index in the host's namespace
    int jail_index = 0;            // the jail end's index in the slot's namespace
    std::optional<RouteSocket> jail;  // in the slot's namespace
  };

  LinkPool() = default;
  LinkPool(const LinkPool&) = delete;
  LinkPool& operator=(const LinkPool&) = delete;
  ~LinkPool();

  // A ready namespace for a jail, or an empty descriptor when none is ready (then the caller
  // makes its own, and attach makes the link). The first call starts the pool's thread, in the
  // caller's network namespace. The slot stays here until attach claims it.
  UniqueFd take();
  // The slot of a namespace that take() handed out, no longer the pool's; nullopt when `netns_fd`
  // is not one.
  std::optional<Slot> claim(int netns_fd);
  // Lets the thread make the slots taken since: called once the attach that took one is done, so
  // that making a namespace and a veth (rtnl_lock, copy_net_ns) does not compete with it.
  void refill();
  // The host ends the pool holds (a sweep keeps them).
  std::vector<std::string> names();
  // Stops the thread and gives back every slot not yet claimed (the caller deletes their host
  // ends: then the kernel does not free them asynchronously after the caller returned). A later
  // take() starts again.
  std::vector<Slot> stop();

 private:
  static constexpr std::size_t kReady = 2;

  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<UniqueFd, Slot>> ready_;
  std::map<std::pair<dev_t, ino_t>, Slot> handed_;  // taken, not yet claimed
  std::thread thread_;
  bool stop_ = false, failed_ = false;
};

}  // namespace lj::net::linux_links
