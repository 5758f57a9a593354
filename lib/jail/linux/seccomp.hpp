// The default seccomp filter of every jail: a deny-list in the spirit of Docker's and crun's
// default profiles. Everything is allowed except the calls below, which fail with EPERM (clone3
// with ENOSYS, so that libc falls back to clone(2), whose flags a filter can see):
//   - a nested user namespace: clone/unshare with CLONE_NEWUSER (it gives back CAP_SYS_ADMIN
//     over new mount, net, ... namespaces: a large kernel surface), setns;
//   - the kernel keyring (keyctl, add_key, request_key), bpf, perf_event_open, userfaultfd,
//     io_uring_*, kexec_*, modules (init/finit/delete_module), open_by_handle_at and
//     name_to_handle_at, mount/umount/pivot_root and the new mount API (fsopen, fsconfig, fsmount,
//     fspick, move_mount, open_tree, mount_setattr), swapon/swapoff, reboot, acct, syslog, the
//     clock (settimeofday, stime, clock_settime), iopl/ioperm, quotactl, lookup_dcookie, uselib;
//   - personality(2) other than PER_LINUX, PER_LINUX32, UNAME26 and the query (0xffffffff).
// chroot and ptrace stay allowed (capabilities gate chroot; ptrace cannot bypass seccomp since
// Linux 4.8). adjtimex/clock_adjtime stay allowed: their read form is common (ntp_gettime) and
// BPF cannot see the struct's `modes`; a write needs CAP_SYS_TIME, which no jail has.
//
// Every ABI of the machine is covered: on x86_64 the filter also matches i386 (int 0x80) and x32
// system calls; a call from any other ABI kills the process. Compiled with libseccomp into a
// classic BPF program by the build (lj-seccomp-gen, default_seccomp()); the jail's init loads it
// with one seccomp(2) call.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "common/error.hpp"

namespace lj::jail {

struct SeccompProgram {
  std::vector<sock_filter> code;
  // The program as seccomp(SECCOMP_SET_MODE_FILTER) takes it; valid while `code` is unchanged.
  sock_fprog fprog() const {
    return {static_cast<unsigned short>(code.size()), const_cast<sock_filter*>(code.data())};
  }
};

// The default filter, compiled for the ABIs of this machine. Errors (libseccomp refusing a rule,
// the export failing) name the call and errno.
Result<SeccompProgram> compile_default_seccomp();

// The default filter as the build compiled it (lj-seccomp-gen), or compiled now where the build
// could not run the compiler (a cross build). What a backend loads.
Result<SeccompProgram> default_seccomp();

// The system calls the default filter denies outright, by name (docs, tests).
std::vector<std::string> seccomp_denied_names();

}  // namespace lj::jail
