// Content digests, "sha256:<64 lowercase hex>" (the OCI image spec's descriptor digest; only
// sha256 is accepted: the registries and tools this talks to use it, and a store keyed by one
// algorithm has exactly one name per blob). Hashing is OpenSSL's SHA-256, streamed.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace lj::image {

class Digest {
 public:
  // No digest (empty()); only a placeholder until a parsed one is assigned.
  Digest() = default;
  // "sha256:<hex>" with exactly 64 lowercase hex digits; anything else is Errc::invalid_argument
  // (an uppercase hex digit too: two spellings of one digest would name two store entries).
  static Result<Digest> parse(std::string_view text);
  // The digest of `data`.
  static Digest of(std::string_view data);

  bool empty() const { return hex_.empty(); }
  const std::string& hex() const { return hex_; }
  std::string str() const { return "sha256:" + hex_; }
  bool operator==(const Digest&) const = default;
  auto operator<=>(const Digest&) const = default;

 private:
  explicit Digest(std::string hex) : hex_(std::move(hex)) {}
  friend class Sha256;
  std::string hex_;
};

// A streaming SHA-256: update() any number of times, then finish() once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, std::size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  Digest finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace lj::image
