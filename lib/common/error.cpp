#include "error.hpp"

#include <cstring>

namespace lj {

std::string_view errc_name(Errc errc) {
  switch (errc) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::exists: return "exists";
    case Errc::conflict: return "conflict";
    case Errc::busy: return "busy";
    case Errc::permission_denied: return "permission_denied";
    case Errc::no_space: return "no_space";
    case Errc::limit: return "limit";
    case Errc::unsupported: return "unsupported";
    case Errc::timed_out: return "timed_out";
    case Errc::exec_failed: return "exec_failed";
    case Errc::system: return "system";
    case Errc::internal: return "internal";
  }
  return "internal";
}

std::string errno_name(int e) {
  // strerrorname_np is glibc 2.32+; FreeBSD has no equivalent, so keep a table of the ones we meet.
  switch (e) {
#define LJ_E(x) \
  case x: return #x;
    LJ_E(EPERM) LJ_E(ENOENT) LJ_E(ESRCH) LJ_E(EINTR) LJ_E(EIO) LJ_E(ENXIO) LJ_E(E2BIG)
    LJ_E(ENOEXEC) LJ_E(EBADF) LJ_E(ECHILD) LJ_E(EAGAIN) LJ_E(ENOMEM) LJ_E(EACCES) LJ_E(EFAULT)
    LJ_E(EBUSY) LJ_E(EEXIST) LJ_E(EXDEV) LJ_E(ENODEV) LJ_E(ENOTDIR) LJ_E(EISDIR) LJ_E(EINVAL)
    LJ_E(ENFILE) LJ_E(EMFILE) LJ_E(ENOTTY) LJ_E(ETXTBSY) LJ_E(EFBIG) LJ_E(ENOSPC) LJ_E(ESPIPE)
    LJ_E(EROFS) LJ_E(EMLINK) LJ_E(EPIPE) LJ_E(ERANGE) LJ_E(EDEADLK) LJ_E(ENAMETOOLONG)
    LJ_E(ENOSYS) LJ_E(ENOTEMPTY) LJ_E(ELOOP) LJ_E(EOVERFLOW) LJ_E(ENOTSUP) LJ_E(EADDRINUSE)
    LJ_E(EADDRNOTAVAIL) LJ_E(ECONNREFUSED) LJ_E(ECONNRESET) LJ_E(ETIMEDOUT) LJ_E(EDQUOT)
    LJ_E(EALREADY) LJ_E(EINPROGRESS) LJ_E(ENOTCONN) LJ_E(ENOTSOCK)
#undef LJ_E
    // Appended, not `"E" + std::to_string(e)`: g++ 12.2 at -O3 (Release) reports a false
    // -Wrestrict in the inlined operator+(const char*, string&&) ("memcpy accessing
    // 9223372036854775810 or more bytes ... may overlap"), which stopped a -Werror build.
    default: {
      std::string name = "E";
      name += std::to_string(e);
      return name;
    }
  }
}

Error Error::from_errno(std::string domain, std::string_view what, int e) {
  Errc errc = Errc::system;
  switch (e) {
    case ENOENT: errc = Errc::not_found; break;
    case EEXIST: errc = Errc::exists; break;
    case EBUSY:
    case EAGAIN: errc = Errc::busy; break;
    case EPERM:
    case EACCES: errc = Errc::permission_denied; break;
    case ENOSPC:
    case EDQUOT: errc = Errc::no_space; break;
    case ETIMEDOUT: errc = Errc::timed_out; break;
    case ENOSYS:
    case ENOTSUP: errc = Errc::unsupported; break;
    default: break;
  }
  return from_errno(errc, std::move(domain), what, e);
}

Error Error::from_errno(Errc errc, std::string domain, std::string_view what, int e) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(e);
  return Error(errc, std::move(domain), std::move(msg), e);
}

std::string Error::code() const {
  std::string c = domain_;
  c += '.';
  c += errc_name(errc_);
  return c;
}

std::string Error::what() const {
  std::string out;
  if (!context_.empty()) {
    out = context_;
    out += ": ";
  }
  out += message_;
  if (errno_ != 0) {
    out += " (";
    out += errno_name(errno_);
    out += ')';
  }
  return out;
}

Error& Error::context(std::string_view outer) & {
  if (context_.empty()) {
    context_ = outer;
  } else {
    std::string c(outer);
    c += ": ";
    c += context_;
    context_ = std::move(c);
  }
  return *this;
}

Error&& Error::context(std::string_view outer) && { return std::move(context(outer)); }

}  // namespace lj
