#include "daemon/core.hpp"

#include "common/log.hpp"
#include "daemon/execs.hpp"
#include "daemon/images.hpp"
#include "daemon/jails.hpp"
#include "daemon/networks.hpp"
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
  networks = std::make_unique<Networks>(*this);
  images = std::make_unique<Images>(*this);
  execs = std::make_unique<Execs>(*this);
}

Daemon::~Daemon() = default;

Status Daemon::emit(Result<index::EventRow> ev) {
  if (!ev) return tl::unexpected(ev.error());
  events.publish(*ev);
  return {};
}

bool Daemon::check_index_file() {
  auto lost = idx.file_lost();
  if (!lost) return true;
  auto lg = lj::log("index");
  const std::string path = idx.path();
  auto aside = idx.restore_file();
  if (!aside) {
    std::string state = fmt::format("{} {} while ljd runs; restoring it failed: {}", path, *lost,
                                    aside.error().what());
    // Logged once per new reason, not every second.
    if (state != index_file.state) lg->error("{}; exits are kept in their status files", state);
    index_file.state = std::move(state);
    return false;
  }
  ++index_file.restores;
  index_file.state = "ok";
  index_file.last_restore =
      fmt::format("{} {} while ljd ran: restored from ljd's open index{}", path, *lost,
                  aside->empty() ? "" : "; the file found there kept as " + *aside);
  lg->error("{}", index_file.last_restore);
  return true;
}

void Daemon::watch_index_file() {
  index_file_timer = loop.after(std::chrono::seconds(1), [this] {
    (void)check_index_file();
    watch_index_file();
  });
}

}  // namespace lj::daemon
