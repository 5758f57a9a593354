// A jail's user, resolved against the jail's own /etc/passwd and /etc/group: in the command's
// process, after pivot_root and before it drops root (child.cpp), so the files read are the jail's
// (its layers, writable layer and volumes), never the host's, and nothing of the host's NSS
// (nsswitch.conf, libnss modules) runs. That process may share ljd's memory: no allocation, no
// locks, only open/read/close into buffers on the caller's stack (signal-safety(7)).
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace lj::jail {

// More supplementary groups than this fail the lookup (the buffer lives on the command's stack).
constexpr int kMaxUserGroups = 64;

struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  int ngroups = 0;  // the primary gid first, then every group /etc/group lists the user in
  gid_t groups[kMaxUserGroups];
};

// Resolves `user`: "name" or "uid", optionally followed by ":group" or ":gid", the forms of
// docker run --user. A name must exist in `passwd_path` (and a group name in `group_path`); a
// uid without an entry runs with gid 0 and no supplementary groups, as Docker's does. Returns true
// with *out filled, or false with a message in detail (NUL-terminated, at most cap bytes) and *err
// the errno of a failed read, 0 when the user or group does not exist or `user` is malformed.
bool resolve_user(const char* user, const char* passwd_path, const char* group_path,
                  ResolvedUser* out, char* detail, std::size_t cap, int* err) noexcept;

}  // namespace lj::jail
