#include "jail/root.hpp"

namespace lj::jail {

Status check_plan(const MountPlan& plan) {
  // "overlay": the wire code a root's errors have had since v1 (root_program.cpp).
  auto bad = [](std::string msg) { return fail(Errc::invalid_argument, "overlay", std::move(msg)); };
  if (plan.layers.empty()) return bad("mount plan has no layer");
  for (const auto& l : plan.layers)
    if (!l.is_absolute()) return bad("layer is not absolute: " + l.string());
  switch (plan.writable.kind) {
    case WritableLayer::Kind::in_place:
      if (plan.layers.size() != 1)
        return bad("an in-place writable root needs exactly one layer, not " +
                   std::to_string(plan.layers.size()));
      break;
    case WritableLayer::Kind::host_dir:
      if (!plan.writable.dir.is_absolute())
        return bad("writable directory is not absolute: '" + plan.writable.dir.string() + "'");
      break;
    case WritableLayer::Kind::tmpfs:
    case WritableLayer::Kind::none:
      break;
  }
  for (const auto& v : plan.volumes)
    if (!v.host_path.is_absolute())
      return bad("volume host path " + v.host_path.string() + " is not absolute");
  return {};
}

}  // namespace lj::jail
