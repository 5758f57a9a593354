// default_seccomp(): the program lj-seccomp-gen compiled at build time (CMakeLists.txt), so a
// process that starts jails does not run libseccomp's compiler; a cross build compiles it here.
#include <iterator>

#include "jail/linux/seccomp.hpp"

namespace lj::jail {

Result<SeccompProgram> default_seccomp() {
#ifdef LJ_SECCOMP_BUILT
  static constexpr sock_filter kBuilt[] = {
#include "default_seccomp.inc"
  };
  SeccompProgram p;
  p.code.assign(std::begin(kBuilt), std::end(kBuilt));
  return p;
#else
  return compile_default_seccomp();
#endif
}

}  // namespace lj::jail
