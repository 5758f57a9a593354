#include "net/linux/link_pool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.hpp"
#include "common/random_id.hpp"
#include "net/linux/netns.hpp"

namespace lj::net::linux_links {
namespace {

std::optional<std::pair<dev_t, ino_t>> identity(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return std::pair{st.st_dev, st.st_ino};
}

// One slot, made from the host's namespace `host` (this thread's) with `sock` open in it.
Result<std::pair<UniqueFd, LinkPool::Slot>> make_slot(int host, RouteSocket& sock) {
  LinkPool::Slot s;
  UniqueFd ns = LJ_TRY(new_netns());
  auto id = identity(ns.get());
  if (!id) return fail_errno("net", "fstat a new namespace");
  s.ns = *id;
  // "ljvp-" + 8 characters of 4 random bytes: a name left by a ljd killed a moment ago (the kernel
  // frees its namespaces asynchronously) does not clash.
  s.host_end = std::string(kPoolPrefix) + lj::random_id("", 4).substr(0, 8);
  s.jail = LJ_TRY(RouteSocket::open_in(ns.get()));
  // Made from inside the namespace: eth0 up there, its peer in the host's namespace, down.
  LJ_TRY(s.jail->add_veth(std::string(kPooledJailEnd), 0, s.host_end, host, std::nullopt));
  s.host_index = LJ_TRY(sock.ifindex(s.host_end));
  if (s.host_index == 0) return fail(Errc::internal, "net", "pooled link " + s.host_end + " vanished");
  // Known now, the attach needs no lookup in the jail's namespace.
  s.jail_index = LJ_TRY(s.jail->ifindex(std::string(kPooledJailEnd)));
  if (s.jail_index == 0) return fail(Errc::internal, "net", "pooled link's jail end vanished");
  return std::pair{std::move(ns), std::move(s)};
}

}  // namespace

LinkPool::~LinkPool() {
  // Slots left here close with their descriptors: the kernel frees them.
  (void)stop();
}

UniqueFd LinkPool::take() {
  std::lock_guard lock(mu_);
  if (failed_) return UniqueFd();
  if (!thread_.joinable()) {
    stop_ = false;
    thread_ = std::thread([this] { run(); });
  }
  UniqueFd fd;
  if (!ready_.empty()) {
    fd = std::move(ready_.back().first);
    Slot s = std::move(ready_.back().second);
    ready_.pop_back();
    handed_.emplace(s.ns, std::move(s));
  } else {
    cv_.notify_all();  // none ready: no attach of a pooled link to wait for
  }
  return fd;
}

void LinkPool::refill() { cv_.notify_all(); }

std::optional<LinkPool::Slot> LinkPool::claim(int netns_fd) {
  auto id = identity(netns_fd);
  if (!id) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = handed_.find(*id);
  if (it == handed_.end()) return std::nullopt;
  Slot s = std::move(it->second);
  handed_.erase(it);
  return s;
}

std::vector<std::string> LinkPool::names() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [fd, s] : ready_) out.push_back(s.host_end);
  for (const auto& [id, s] : handed_) out.push_back(s.host_end);
  return out;
}

std::vector<LinkPool::Slot> LinkPool::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  std::vector<Slot> out;
  for (auto& [fd, s] : ready_) out.push_back(std::move(s));
  for (auto& [id, s] : handed_) out.push_back(std::move(s));
  ready_.clear();
  handed_.clear();
  return out;
}

void LinkPool::run() {
  UniqueFd host(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  auto sock = RouteSocket::open();
  if (!host || !sock) {
    lj::log("net")->warn("link pool: cannot start; jails' links are made at their start");
    std::lock_guard lock(mu_);
    failed_ = true;
    return;
  }
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || ready_.size() < kReady; });
      if (stop_) return;
    }
    auto made = make_slot(host.get(), *sock);
    std::lock_guard lock(mu_);
    if (!made) {
      // The jails make their own, as without the pool.
      lj::log("net")->warn("link pool: {}; jails' links are made at their start",
                           made.error().what());
      failed_ = true;
      return;
    }
    ready_.push_back(std::move(*made));  // when stopping, stop() collects it with the others
  }
}

}  // namespace lj::net::linux_links
