#include "net/linux/nft.hpp"

#include <nftables/libnftables.h>

#include <utility>

namespace lj::net {

Result<Nft> Nft::make() {
  nft_ctx* c = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!c) return fail(Errc::system, "net", "nft_ctx_new");
  nft_ctx_buffer_output(c);
  nft_ctx_buffer_error(c);
  return Nft(c);
}

Nft::Nft(Nft&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}

Nft::~Nft() {
  if (ctx_) nft_ctx_free(ctx_);
}

Status Nft::run(const std::string& text) {
  if (nft_run_cmd_from_buffer(ctx_, text.c_str()) == 0) return {};
  std::string err = nft_ctx_get_error_buffer(ctx_);
  while (!err.empty() && err.back() == '\n') err.pop_back();
  Errc kind = err.find("File exists") != std::string::npos ? Errc::exists
              : err.find("No such file") != std::string::npos ? Errc::not_found
                                                               : Errc::system;
  return fail(kind, "net", "nftables: " + err);
}

}  // namespace lj::net
