// The answers to a netlink batch: requests sent together in one sendmsg, each with NLM_F_ACK, are
// answered together (rtnetlink and nfnetlink run them in the sender's context, in order). Shared
// by the nf_tables batch (nft_batch.hpp) and a jail end's configuration (links.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "common/error.hpp"

namespace lj::net {

// Reads from the netlink socket `fd` until every sequence number in `pending` is answered (an
// ack, or an error). The first error is the result, described by `what(seq)`; after it, what is
// still queued is drained without waiting, so that the next batch reads only its own answers.
Status read_acks(int fd, std::set<std::uint32_t> pending,
                 const std::function<std::string(std::uint32_t seq)>& what);

}  // namespace lj::net
