// A jail's device rules (Limits::device_rules) as the kernel enforces them: the list the engine
// writes (the jail's rules after everything denied, then the engine's own nodes), the state the
// cgroup v1 devices controller keeps from that list, and that state as a cgroup v2 device program
// (BPF_PROG_TYPE_CGROUP_DEVICE, runc's devicefilter: v2 has no devices controller).
#pragma once

#include <string>
#include <vector>

#include "common/error.hpp"
#include "jail/spec.hpp"

namespace lj::jail {

// The rules in force for a jail with `rules`: `rules`, then the engine's own nodes allowed (null,
// zero, full, random, urandom, tty, ptmx, the devpts ptys 136:*) and mknod of any node (the
// jail's init makes its /dev inside the cgroup), as runc appends its defaults. Everything is
// denied before the first (cgroup v1: "a" written to devices.deny).
std::vector<DeviceRule> jail_device_rules(const std::vector<DeviceRule>& rules);

// What the v1 devices controller holds after "a" denied and then `rules` written one by one
// (security/device_cgroup.c, devcgroup_update_access): an 'a' rule sets the default and clears
// the exceptions, whatever its numbers and access; a rule against the default adds its access
// to the exception of exactly its type and numbers (or a new one, in order); a rule with the
// default takes its access off that exception. An access is allowed when the default denies
// and one exception covers all of it, or when the default allows and no exception shares any.
struct DeviceRuleState {
  bool default_allow = false;
  std::vector<DeviceRule> exceptions;  // type 'c' or 'b', allow = !default_allow
};
DeviceRuleState reduce_device_rules(const std::vector<DeviceRule>& rules);

// Loads a device program answering as reduce_device_rules(rules) does and attaches it to the
// cgroup v2 directory `cgroup_dir` (BPF_CGROUP_DEVICE with BPF_F_ALLOW_MULTI, as runc: a parent's
// program still applies too), then detaches the programs attached to that cgroup before (one
// taken again at a caller's path). The attachment lasts as long as the cgroup: nothing to keep open
// (the program's descriptor is closed here). Each cgroup2 directory takes one, with or without
// controllers. Errors name the directory and bpf(2)'s errno (EPERM: no CAP_SYS_ADMIN or bpf
// refused), the verifier's log when the load fails.
Status attach_device_program(const std::string& cgroup_dir, const std::vector<DeviceRule>& rules);

}  // namespace lj::jail
