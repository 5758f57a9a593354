// FreeBSD: mounts are global; getmntinfo(3) lists them all with f_mntonname. MNT_NOWAIT: do not
// ask every filesystem for fresh statistics (a hung NFS server would block us), we only need the
// mount points. getmntinfo's buffer is per-process static, so calls are serialized.
#include <sys/mount.h>
#include <sys/param.h>
#include <sys/ucred.h>

#include <mutex>

#include "common/mount_table.hpp"

namespace lj {
namespace {

class GetmntinfoMountTable final : public MountTable {
 public:
  Result<std::vector<std::filesystem::path>> mount_points() const override {
    static std::mutex mu;
    std::lock_guard lock(mu);
    struct statfs* mounts = nullptr;
    int n = ::getmntinfo(&mounts, MNT_NOWAIT);
    if (n <= 0) return fail_errno("overlay", "getmntinfo");
    std::vector<std::filesystem::path> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) out.emplace_back(mounts[i].f_mntonname);
    return out;
  }
};

}  // namespace

const MountTable& system_mount_table() {
  static const GetmntinfoMountTable table;
  return table;
}

}  // namespace lj
