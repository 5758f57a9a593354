// Linux: the mount table of this process's mount namespace, from /proc/self/mountinfo (proc(5)).
// mountinfo, unlike /proc/mounts, escapes spaces and newlines in paths, so one line is one mount.
#include <string>

#include "overlay/fs_ops.hpp"
#include "overlay/mounts.hpp"

namespace lj::overlay {
namespace {

class ProcMountTable final : public MountTable {
 public:
  Result<std::vector<std::filesystem::path>> mount_points() const override {
    // Thousands of mounts (one per jail and volume) still fit well within 64 MiB.
    std::string text = LJ_TRY(read_file("/proc/self/mountinfo", 64u << 20));
    return parse_mountinfo(text);
  }
};

}  // namespace

const MountTable& system_mount_table() {
  static const ProcMountTable table;
  return table;
}

}  // namespace lj::overlay
