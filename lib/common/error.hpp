// Errors are values: a stable kind (Errc), the domain that raised it, the errno when a syscall
// failed, and a context chain built as the error travels up ("creating jail web-1: mounting
// /data: Device or resource busy (EBUSY)"). The daemon maps Errc to an HTTP status in exactly one
// table; code() is the stable string on the wire ("jail.not_found").
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <tl/expected.hpp>

namespace lj {

enum class Errc {
  invalid_argument,   // the caller's input is wrong (bad spec, bad name, parse error)
  not_found,          // a named thing does not exist
  exists,             // creating something that is already there
  conflict,           // the thing exists but its state forbids the request (running, in use)
  busy,               // transient: try again later (EBUSY, EAGAIN, not yet reconciled)
  permission_denied,  // EPERM/EACCES, or a peer not allowed
  no_space,           // ENOSPC, EDQUOT
  limit,              // a configured limit was hit (body size, jail count)
  unsupported,        // this platform or kernel cannot do it
  timed_out,          // a deadline passed
  exec_failed,        // the command could not be executed (execve failed: see sys_errno())
  system,             // a syscall failed for another reason: see sys_errno()
  internal,           // a bug or an impossible state
};

std::string_view errc_name(Errc errc);

class Error {
 public:
  Error(Errc errc, std::string domain, std::string message, int sys_errno = 0)
      : errc_(errc), domain_(std::move(domain)), message_(std::move(message)), errno_(sys_errno) {}

  // An error for a failed syscall: the kind follows errno (ENOENT -> not_found, EEXIST -> exists,
  // EBUSY -> busy, EPERM -> permission_denied, ENOSPC -> no_space, else system) and the message is
  // "what: strerror (ENAME)".
  static Error from_errno(std::string domain, std::string_view what, int sys_errno = errno);
  // The same message, with the kind the caller knows better than errno does (exec_failed).
  static Error from_errno(Errc errc, std::string domain, std::string_view what, int sys_errno);

  Errc errc() const { return errc_; }
  const std::string& domain() const { return domain_; }
  int sys_errno() const { return errno_; }
  // The innermost text, without context or errno decoration.
  const std::string& message() const { return message_; }
  // Stable wire code, "<domain>.<errc>", e.g. "jail.not_found".
  std::string code() const;
  // Context chain, outermost first, then the message, then the errno name when set.
  std::string what() const;

  // Prepends one step of context: "outer: inner".
  Error&& context(std::string_view outer) &&;
  Error& context(std::string_view outer) &;

 private:
  Errc errc_;
  std::string domain_;
  std::string message_;
  std::string context_;  // "outer: middle" (without the trailing ": ")
  int errno_;
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }
inline tl::unexpected<Error> fail(Errc errc, std::string domain, std::string message) {
  return tl::unexpected<Error>(Error(errc, std::move(domain), std::move(message)));
}
inline tl::unexpected<Error> fail_errno(std::string domain, std::string_view what,
                                        int sys_errno = errno) {
  return tl::unexpected<Error>(Error::from_errno(std::move(domain), what, sys_errno));
}

// errno's symbolic name ("EBUSY"), or "E<number>".
std::string errno_name(int sys_errno);

}  // namespace lj

namespace lj::detail {
// The value of a successful Result, moved out; nothing for a Status (tl::expected<void, E> has
// no value() to call).
template <class R>
typename std::remove_cvref_t<R>::value_type try_value(R&& r) {
  if constexpr (!std::is_void_v<typename std::remove_cvref_t<R>::value_type>) {
    return std::move(*r);
  }
}
}  // namespace lj::detail

// Propagates a failed Result/Status out of the enclosing function, which must return a
// Result<...> or Status. The value of a Result is the expression's value (GNU statement
// expression, supported by g++ and clang, the compilers of both platforms).
#define LJ_TRY(...)                                                  \
  ({                                                                 \
    auto&& lj_try_r_ = (__VA_ARGS__);                                \
    if (!lj_try_r_) return ::tl::unexpected(std::move(lj_try_r_).error()); \
    ::lj::detail::try_value(std::move(lj_try_r_));                   \
  })

// As LJ_TRY, prepending context to the error on the way out.
#define LJ_TRY_CTX(ctx, ...)                                         \
  ({                                                                 \
    auto&& lj_try_r_ = (__VA_ARGS__);                                \
    if (!lj_try_r_) return ::tl::unexpected(std::move(lj_try_r_).error().context(ctx)); \
    ::lj::detail::try_value(std::move(lj_try_r_));                   \
  })
