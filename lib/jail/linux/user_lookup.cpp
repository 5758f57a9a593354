#include "jail/linux/user_lookup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lj::jail {
namespace {

// A string view without the standard library's (this runs where nothing may allocate or throw).
struct Span {
  const char* p = nullptr;
  std::size_t n = 0;
  bool operator==(const Span& o) const { return n == o.n && std::memcmp(p, o.p, n) == 0; }
};

Span span(const char* s) {
  return {s, std::strlen(s)};
}

// Field `idx` (0-based) of a ':'-separated line; empty past the last one.
Span field(Span line, int idx) {
  std::size_t b = 0;
  for (int i = 0; i < idx; ++i) {
    while (b < line.n && line.p[b] != ':') ++b;
    if (b == line.n) return {line.p + b, 0};
    ++b;
  }
  std::size_t e = b;
  while (e < line.n && line.p[e] != ':') ++e;
  return {line.p + b, e - b};
}

// A decimal id, or false: empty, not all digits, or above 2^32-2 ((uid_t)-1 means "unchanged" to
// setresuid(2)).
bool parse_id(Span s, unsigned* out) {
  if (s.n == 0 || s.n > 10) return false;
  unsigned long long v = 0;
  for (std::size_t i = 0; i < s.n; ++i) {
    if (s.p[i] < '0' || s.p[i] > '9') return false;
    v = v * 10 + static_cast<unsigned>(s.p[i] - '0');
  }
  if (v >= 0xffffffffULL) return false;
  *out = static_cast<unsigned>(v);
  return true;
}

// Calls f(line) for each line of the file until it returns true. Lines longer than the buffer
// are skipped whole (no passwd or group line of a sane world is that long). 0, or the errno of a
// failed open or read.
template <class F>
int for_each_line(const char* path, F&& f) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[4096];
  std::size_t have = 0;
  bool skipping = false;
  int rc = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf + have, sizeof buf - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = errno;
      break;
    }
    if (n == 0) {
      if (have > 0 && !skipping) f(Span{buf, have});  // a last line without its newline
      break;
    }
    const std::size_t old = have;
    have += static_cast<std::size_t>(n);
    std::size_t start = 0;
    bool done = false;
    for (std::size_t i = old; i < have && !done; ++i) {
      if (buf[i] != '\n') continue;
      if (!skipping) done = f(Span{buf + start, i - start});
      skipping = false;
      start = i + 1;
    }
    if (done) break;
    std::memmove(buf, buf + start, have - start);
    have -= start;
    if (have == sizeof buf) {
      skipping = true;
      have = 0;
    }
  }
  ::close(fd);
  return rc;
}

// detail = a + b + c, truncated to cap.
void message(char* detail, std::size_t cap, const char* a, Span b, const char* c) {
  std::size_t i = 0;
  auto put = [&](const char* s, std::size_t n) {
    for (std::size_t k = 0; k < n && i + 1 < cap; ++k) detail[i++] = s[k];
  };
  put(a, std::strlen(a));
  put(b.p, b.n);
  put(c, std::strlen(c));
  if (cap > 0) detail[i] = '\0';
}

}  // namespace

bool resolve_user(const char* user, const char* passwd_path, const char* group_path,
                  ResolvedUser* out, char* detail, std::size_t cap, int* err) noexcept {
  *err = 0;
  out->ngroups = 0;
  Span u = span(user), g;
  bool has_group = false;
  if (const char* colon = std::strchr(user, ':')) {
    u = {user, static_cast<std::size_t>(colon - user)};
    g = span(colon + 1);
    has_group = true;
  }
  if (u.n == 0 || (has_group && g.n == 0) || std::memchr(g.p ? g.p : "", ':', g.n)) {
    message(detail, cap, "user '", span(user), "' is not name|uid[:group|gid]");
    return false;
  }
  unsigned id = 0;
  const bool numeric = parse_id(u, &id);

  // The passwd entry: by name, or by uid for a number.
  char name[256];
  bool found = false;
  int rc = for_each_line(passwd_path, [&](Span line) {
    Span n = field(line, 0);
    unsigned uid = 0, gid = 0;
    if (!parse_id(field(line, 2), &uid) || !parse_id(field(line, 3), &gid)) return false;
    if (numeric ? uid != id : !(n == u)) return false;
    if (n.n >= sizeof name) return false;
    std::memcpy(name, n.p, n.n);
    name[n.n] = '\0';
    out->uid = uid;
    out->gid = gid;
    found = true;
    return true;
  });
  if (rc != 0 && rc != ENOENT) {
    *err = rc;
    message(detail, cap, "reading ", span(passwd_path), "");
    return false;
  }
  if (!found) {
    if (!numeric) {
      message(detail, cap, "no user '", u, "' in the jail's /etc/passwd");
      return false;
    }
    out->uid = id;
    out->gid = 0;
    name[0] = '\0';
  }

  if (has_group) {
    unsigned gid = 0;
    if (parse_id(g, &gid)) {
      out->gid = gid;
    } else {
      bool gfound = false;
      rc = for_each_line(group_path, [&](Span line) {
        if (!(field(line, 0) == g) || !parse_id(field(line, 2), &gid)) return false;
        gfound = true;
        return true;
      });
      if (rc != 0 && rc != ENOENT) {
        *err = rc;
        message(detail, cap, "reading ", span(group_path), "");
        return false;
      }
      if (!gfound) {
        message(detail, cap, "no group '", g, "' in the jail's /etc/group");
        return false;
      }
      out->gid = gid;
    }
  }

  // initgroups(3): the primary group, then every group whose member list names the user.
  out->groups[out->ngroups++] = out->gid;
  if (name[0] == '\0') return true;
  const Span me = span(name);
  bool overflow = false;
  rc = for_each_line(group_path, [&](Span line) {
    unsigned gid = 0;
    if (!parse_id(field(line, 2), &gid)) return false;
    Span members = field(line, 3);
    for (std::size_t b = 0; b < members.n;) {
      std::size_t e = b;
      while (e < members.n && members.p[e] != ',') ++e;
      if (Span{members.p + b, e - b} == me) {
        bool dup = false;
        for (int i = 0; i < out->ngroups; ++i) dup = dup || out->groups[i] == gid;
        if (!dup) {
          if (out->ngroups == kMaxUserGroups) return overflow = true;
          out->groups[out->ngroups++] = gid;
        }
        break;
      }
      b = e + 1;
    }
    return false;
  });
  if (rc != 0 && rc != ENOENT) {
    *err = rc;
    message(detail, cap, "reading ", span(group_path), "");
    return false;
  }
  if (overflow) {
    message(detail, cap, "user '", me, "' is in more than 64 groups");
    return false;
  }
  return true;
}

}  // namespace lj::jail
