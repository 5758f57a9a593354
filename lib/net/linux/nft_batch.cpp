#include "net/linux/nft_batch.hpp"

// glibc's headers first: they tell the kernel's (linux/in.h) not to define in_addr again.
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <set>
#include <string>

#include "net/linux/netlink_acks.hpp"

namespace lj::net {
namespace nft {

std::vector<std::uint8_t> field_bytes(const std::vector<Field>& fields) {
  std::vector<std::uint8_t> out;
  for (const auto& f : fields) {
    const std::size_t at = out.size();
    switch (f.kind) {
      case Field::Kind::ifname:
        out.resize(at + IFNAMSIZ, 0);
        std::memcpy(out.data() + at, f.ifname.data(), std::min<std::size_t>(f.ifname.size(), IFNAMSIZ - 1));
        break;
      case Field::Kind::address:
        out.insert(out.end(), f.address.bytes(), f.address.bytes() + f.address.size());
        break;
      case Field::Kind::proto:
        out.push_back(f.proto == Proto::udp ? IPPROTO_UDP : IPPROTO_TCP);
        break;
      case Field::Kind::port:
        out.push_back(static_cast<std::uint8_t>(f.port >> 8));
        out.push_back(static_cast<std::uint8_t>(f.port & 0xff));
        break;
    }
    out.resize((out.size() + 3) & ~std::size_t{3}, 0);  // NFT_REG32_SIZE alignment per field
  }
  return out;
}

}  // namespace nft

namespace {

// A netlink message being built: header, nfgenmsg, attributes (nested ones closed by offset).
class Message {
 public:
  Message(std::vector<std::uint8_t>& buf, std::uint16_t type, std::uint16_t flags, std::uint32_t seq,
          std::uint8_t family, std::uint16_t res_id)
      : buf_(buf), start_(buf.size()) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    h.nlmsg_seq = seq;
    append(&h, sizeof h);
    nfgenmsg g{};
    g.nfgen_family = family;
    g.version = NFNETLINK_V0;
    g.res_id = htons(res_id);
    append(&g, sizeof g);
  }
  ~Message() {
    const auto len = static_cast<std::uint32_t>(buf_.size() - start_);
    std::memcpy(buf_.data() + start_, &len, sizeof len);  // nlmsg_len, the header's first field
  }

  void attr(std::uint16_t type, const void* data, std::size_t len) {
    const std::size_t at = open(type);
    append(data, len);
    close(at);
  }
  void attr(std::uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }
  std::size_t nest(std::uint16_t type) { return open(type | NLA_F_NESTED); }
  void end(std::size_t at) { close(at); }

 private:
  std::size_t open(std::uint16_t type) {
    const std::size_t at = buf_.size();
    nlattr a{};
    a.nla_type = type;
    append(&a, sizeof a);
    return at;
  }
  void close(std::size_t at) {
    const auto len = static_cast<std::uint16_t>(buf_.size() - at);  // without the padding
    std::memcpy(buf_.data() + at, &len, sizeof len);
    buf_.resize(NLA_ALIGN(buf_.size()), 0);
  }
  void append(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
    buf_.resize(NLMSG_ALIGN(buf_.size()), 0);
  }

  std::vector<std::uint8_t>& buf_;
  std::size_t start_;
};

void put_data(Message& m, std::uint16_t type, const std::vector<nft::Field>& fields) {
  const auto bytes = nft::field_bytes(fields);
  const std::size_t at = m.nest(type);
  m.attr(NFTA_DATA_VALUE, bytes.data(), bytes.size());
  m.end(at);
}

std::string describe(bool add, const nft::Element& e) {
  return std::string(add ? "adding " : "deleting ") + nft::element_text(e, false);
}

}  // namespace

Result<NftBatch> NftBatch::open() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd) return fail_errno("net", "socket(NETLINK_NETFILTER)");
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return fail_errno("net", "bind a netfilter netlink socket");
  // The kernel answers within sendmsg (nfnetlink runs the batch in the sender's context): the
  // timeout only guards against an answer that never comes.
  timeval tv{5, 0};
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
    return fail_errno("net", "SO_RCVTIMEO on a netfilter netlink socket");
  return NftBatch(std::move(fd));
}

Status NftBatch::add(const std::vector<nft::Element>& elements) { return run(true, elements); }
Status NftBatch::remove(const std::vector<nft::Element>& elements) { return run(false, elements); }

Status NftBatch::run(bool add, const std::vector<nft::Element>& elements) {
  if (elements.empty()) return {};
  std::vector<std::uint8_t> buf;
  buf.reserve(256 * (elements.size() + 2));
  const std::uint32_t first = seq_;
  {
    Message begin(buf, NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq_++, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  }
  // One message per element, each acknowledged: every answer (ack or error) is then accounted for.
  std::set<std::uint32_t> pending;
  for (const auto& e : elements) {
    const std::uint16_t type = (NFNL_SUBSYS_NFTABLES << 8) | (add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM);
    std::uint16_t flags = NLM_F_REQUEST | NLM_F_ACK;
    if (add) flags |= NLM_F_CREATE | (e.exclusive ? NLM_F_EXCL : 0);
    pending.insert(seq_);
    Message m(buf, type, flags, seq_++, e.bridge ? NFPROTO_BRIDGE : NFPROTO_INET, 0);
    m.attr(NFTA_SET_ELEM_LIST_TABLE, std::string("ljd"));
    m.attr(NFTA_SET_ELEM_LIST_SET, e.set);
    const std::size_t list = m.nest(NFTA_SET_ELEM_LIST_ELEMENTS);
    const std::size_t one = m.nest(NFTA_LIST_ELEM);
    put_data(m, NFTA_SET_ELEM_KEY, e.key);
    if (add && !e.value.empty()) put_data(m, NFTA_SET_ELEM_DATA, e.value);
    m.end(one);
    m.end(list);
  }
  {
    Message end(buf, NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq_++, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) != static_cast<ssize_t>(buf.size()))
    return fail_errno("net", "sending an nf_tables batch");

  // The answers: an ack per element, or the errors (the kernel aborts the batch then, and answers
  // every message it went through).
  return read_acks(fd_.get(), std::move(pending), [&](std::uint32_t seq) {
    if (seq > first && seq - first - 1 < elements.size())
      return describe(add, elements[seq - first - 1]);
    return std::string("nf_tables batch");
  });
}

}  // namespace lj::net
