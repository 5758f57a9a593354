#include "jail/freebsd/root_steps.hpp"

namespace lj::jail::freebsd {

using Kind = WritableLayer::Kind;

std::filesystem::path upper_dir(const MountPlan& plan, const std::filesystem::path& upper) {
  switch (plan.writable.kind) {
    case Kind::none:
      return {};
    case Kind::in_place:
      return plan.layers.empty() ? std::filesystem::path() : plan.layers[0];
    case Kind::host_dir:
      return plan.writable.dir / "upper";
    case Kind::tmpfs:
      break;
  }
  return upper;
}

std::vector<MountStep> mount_steps(const MountPlan& plan, const std::filesystem::path& root,
                                   const std::filesystem::path& upper, int devfs_ruleset) {
  std::vector<MountStep> steps;
  if (plan.layers.empty()) return steps;
  const Kind writable = plan.writable.kind;

  MountStep world;
  world.fstype = "nullfs";
  world.source = plan.layers[0];
  world.target = root;
  // in_place: the world itself is the writable root (the seeds' `ljspawn -d $W` installing into
  // $W), so it is mounted read-write and nothing goes above it.
  world.read_only = writable != Kind::in_place;
  steps.push_back(std::move(world));

  for (std::size_t i = 1; i < plan.layers.size(); ++i) {
    MountStep layer;
    layer.fstype = "unionfs";
    layer.source = plan.layers[i];
    layer.target = root;
    layer.options = {{"copymode", "transparent"}};
    layer.read_only = true;
    steps.push_back(std::move(layer));
  }

  if (writable == Kind::tmpfs || writable == Kind::host_dir) {
    if (writable == Kind::tmpfs) {
      MountStep tmp;
      tmp.fstype = "tmpfs";
      tmp.target = upper;
      tmp.options = {{"from", "tmpfs"}, {"mode", "0755"}};  // "from" as mount(8) passes it
      if (plan.writable.tmpfs_bytes > 0)
        tmp.options.emplace_back("size", std::to_string(plan.writable.tmpfs_bytes));
      tmp.nosuid = true;
      steps.push_back(std::move(tmp));
    }
    MountStep rw;
    rw.fstype = "unionfs";
    rw.source = upper_dir(plan, upper);
    rw.target = root;
    rw.options = {{"copymode", "transparent"}};
    steps.push_back(std::move(rw));
  }

  // The "ruleset" mount option applies the rules at mount time (devfs(5)): no process ever sees
  // an unfiltered /dev.
  MountStep dev;
  dev.fstype = "devfs";
  dev.jail_path = "/dev";
  dev.options = {{"from", "devfs"}, {"ruleset", std::to_string(devfs_ruleset)}};
  dev.nosuid = true;
  dev.noexec = true;
  steps.push_back(std::move(dev));

  for (const auto& v : plan.volumes) {
    MountStep vol;
    vol.fstype = "nullfs";
    vol.source = v.host_path;
    vol.jail_path = v.jail_path;
    vol.read_only = v.read_only;
    vol.nosuid = true;
    if (const VolumeOptions* o = plan.options_of(v.jail_path)) {
      vol.noexec = o->no_exec;
      vol.noatime = o->atime == "noatime";  // strictatime is FreeBSD's default; relatime refused
    }
    steps.push_back(std::move(vol));
  }
  return steps;
}

}  // namespace lj::jail::freebsd
