// Linux: the mount table of this process's mount namespace, from /proc/self/mountinfo (proc(5)).
// mountinfo, unlike /proc/mounts, escapes spaces and newlines in paths, so one line is one mount.
#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>

#include "common/mount_table.hpp"

namespace lj {
namespace {

class ProcMountTable final : public MountTable {
 public:
  Result<std::vector<std::filesystem::path>> mount_points() const override {
    // Thousands of mounts (one per jail and volume) are a few hundred KiB of text.
    std::ifstream in("/proc/self/mountinfo");
    std::ostringstream text;
    if (!in || !(text << in.rdbuf())) return fail_errno("overlay", "read /proc/self/mountinfo");
    return parse_mountinfo(text.str());
  }
};

}  // namespace

const MountTable& system_mount_table() {
  static const ProcMountTable table;
  return table;
}

}  // namespace lj
