// A jail's set and map elements (ruleset.hpp's nft::Element) added or deleted as one nf_tables
// netlink batch, built as bytes: no text to parse and no ruleset cache to fetch, which is what
// libnftables spends its time on (bench/net: ~0.5 ms of a jail's start and as much of its end at
// the median; the batch takes a few tens of microseconds). Tables, chains and rules stay with
// libnftables (nft.hpp): they change when a network is made or removed, rarely.
//
// One socket, reused; not thread-safe (the Host serializes). Acts in the network namespace of the
// thread that opened it.
#pragma once

#include <cstdint>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "net/linux/ruleset.hpp"

namespace lj::net {

class NftBatch {
 public:
  static Result<NftBatch> open();

  // Adds the elements (an exclusive one that exists fails the whole batch: Errc::exists), or
  // deletes them (one that is gone fails the whole batch: Errc::not_found), in the order given,
  // in one transaction: all or nothing.
  Status add(const std::vector<nft::Element>& elements);
  Status remove(const std::vector<nft::Element>& elements);

 private:
  explicit NftBatch(UniqueFd fd) : fd_(std::move(fd)) {}
  Status run(bool add, const std::vector<nft::Element>& elements);

  UniqueFd fd_;
  std::uint32_t seq_ = 1;
};

namespace nft {
// The bytes of a key or value as the kernel keeps them (what `nft --debug=netlink` prints): each
// field in network byte order, padded with zeros to a multiple of 4 bytes; an interface name
// takes IFNAMSIZ (16) bytes. Exposed for the unit tests.
std::vector<std::uint8_t> field_bytes(const std::vector<Field>& fields);
}  // namespace nft

}  // namespace lj::net
