// lj::write_all: every byte, in order, through short writes; a peer that went away is an error
// value (EPIPE), never a SIGPIPE that kills the writer.
#include "common/write_all.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/fd.hpp"

namespace lj {
namespace {

std::string big_buffer() {
  std::string data(4 << 20, '\0');  // far beyond a socket's or a pipe's buffer: short writes
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
  return data;
}

std::string read_to_end(int fd) {
  std::string got;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
  return got;
}

void expect_all_bytes_through(int w, int r) {
  const std::string data = big_buffer();
  std::string got;
  std::thread reader([&] { got = read_to_end(r); });
  EXPECT_TRUE(write_all(w, data.data(), data.size())) << std::strerror(errno);
  ::close(w);
  reader.join();
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "bytes lost or out of order";
}

TEST(WriteAll, WritesEveryByteToASocketInOrder) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd r(sv[1]);
  expect_all_bytes_through(sv[0], r.get());
}

TEST(WriteAll, WritesEveryByteToAPipeInOrder) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]);
  expect_all_bytes_through(p[1], r.get());
}

// SIGPIPE keeps its default action here (it would end this test's process): on a socket whose
// reader is gone the write must come back as EPIPE instead.
TEST(WriteAll, ASocketWhosePeerIsGoneIsEpipeNotASignal) {
  struct sigaction dfl {}, old {};
  dfl.sa_handler = SIG_DFL;
  ASSERT_EQ(::sigaction(SIGPIPE, &dfl, &old), 0);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd w(sv[0]);
  ::close(sv[1]);
  errno = 0;
  EXPECT_FALSE(write_all(w.get(), "x", 1));
  EXPECT_EQ(errno, EPIPE);
  ::sigaction(SIGPIPE, &old, nullptr);
}

TEST(WriteAll, ABadDescriptorIsEbadfAndAnEmptyBufferIsDone) {
  errno = 0;
  EXPECT_FALSE(write_all(-1, "x", 1));
  EXPECT_EQ(errno, EBADF);
  EXPECT_TRUE(write_all(-1, "", 0));  // nothing to write: no call made
}

}  // namespace
}  // namespace lj
