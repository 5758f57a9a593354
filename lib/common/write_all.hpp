// A whole-buffer write to a descriptor that may be a socket, a pipe, a file or a terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace lj {

// Writes all n bytes to fd through short writes and EINTR. On a socket, send(MSG_NOSIGNAL): a
// peer that went away is EPIPE, never a SIGPIPE that kills the process. False (errno set) on the
// first error or a write that wrote nothing.
bool write_all(int fd, const void* data, std::size_t n);

// The same as a Status: on failure `domain`'s error "write WHAT" with errno. The write goes through
// the syscall seam (LJ_SYS "write"), so tests can make it fail.
Status write_all(int fd, std::string_view data, std::string_view domain, const std::string& what);

}  // namespace lj
