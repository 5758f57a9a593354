// libnftables, owned: one context, reused (its cache makes later runs cheaper), not thread-safe
// (the Host serializes). Acts in the network namespace of the thread that made it.
#pragma once

#include <string>

#include "common/error.hpp"

struct nft_ctx;

namespace lj::net {

class Nft {
 public:
  static Result<Nft> make();
  Nft(Nft&& o) noexcept;
  Nft& operator=(Nft&&) = delete;
  ~Nft();
  // Runs a text of nft commands as one transaction. Errc::exists when an element exists already
  // (a host port published twice), else Errc::system with nft's message.
  Status run(const std::string& text);

 private:
  explicit Nft(nft_ctx* c) : ctx_(c) {}
  nft_ctx* ctx_ = nullptr;
};

}  // namespace lj::net
