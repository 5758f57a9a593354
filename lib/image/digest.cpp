#include "image/digest.hpp"

#include <openssl/evp.h>

#include <cstdlib>

namespace lj::image {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { ::EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = ::EVP_MD_CTX_new();
  // Allocation failure of a few hundred bytes, or OpenSSL without SHA-256: nothing sensible
  // can continue, and every later digest would be wrong.
  if (ctx_->md == nullptr || ::EVP_DigestInit_ex(ctx_->md, ::EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t n) {
  if (n > 0) ::EVP_DigestUpdate(ctx_->md, data, n);
}

Digest Sha256::finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ::EVP_DigestFinal_ex(ctx_->md, out, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[out[i] >> 4];
    hex += kHex[out[i] & 0xf];
  }
  return Digest(std::move(hex));
}

Result<Digest> Digest::parse(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  auto bad = [&](const char* why) {
    return fail(Errc::invalid_argument, "image",
                "digest \"" + std::string(text.substr(0, 80)) + "\" " + why);
  };
  if (text.substr(0, kPrefix.size()) != kPrefix) return bad("is not sha256:<hex>");
  std::string_view hex = text.substr(kPrefix.size());
  if (hex.size() != 64) return bad("does not have 64 hex digits");
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return bad("has a character that is not a lowercase hex digit");
    }
  }
  return Digest(std::string(hex));
}

Digest Digest::of(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

}  // namespace lj::image
