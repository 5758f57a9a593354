#include "daemon/core.hpp"

#include "daemon/images.hpp"
#include "daemon/jails.hpp"
#include "daemon/resources.hpp"

namespace lj::daemon {

std::uint64_t EventBus::subscribe(Subscriber s) {
  std::uint64_t t = next_++;
  subs_.emplace(t, std::move(s));
  return t;
}

void EventBus::unsubscribe(std::uint64_t token) {
  subs_.erase(token);
}

void EventBus::publish(const index::EventRow& e) {
  for (auto it = subs_.begin(); it != subs_.end();) {
    // A subscriber may unsubscribe others (or itself) from its callback: keep the map valid.
    auto fn = it->second;
    std::uint64_t t = it->first;
    bool keep = fn(e);
    it = subs_.upper_bound(t);
    if (!keep) subs_.erase(t);
  }
}

Daemon::Daemon(Config c, Loop& l, std::unique_ptr<jail::Backend> b, index::Index i)
    : cfg(std::move(c)),
      loop(l),
      backend(std::move(b)),
      idx(std::move(i)),
      catalog(overlay::Root(cfg.root)) {
  jails = std::make_unique<Jails>(*this);
  resources = std::make_unique<Resources>(*this);
  images = std::make_unique<Images>(*this);
}

Daemon::~Daemon() = default;

Status Daemon::emit(Result<index::EventRow> ev) {
  if (!ev) return tl::unexpected(ev.error());
  events.publish(*ev);
  return {};
}

}  // namespace lj::daemon
