#include "common/archive_path.hpp"

namespace lj {

Result<std::string> archive_relative_path(std::string_view p, std::string_view what,
                                          const std::string& domain) {
  if (!p.empty() && p.front() == '/') {
    return fail(Errc::invalid_argument, domain,
                std::string(what) + " \"" + std::string(p) + "\" is an absolute path");
  }
  std::string out;
  std::size_t i = 0;
  while (i <= p.size()) {
    std::size_t slash = p.find('/', i);
    if (slash == std::string_view::npos) slash = p.size();
    std::string_view c = p.substr(i, slash - i);
    i = slash + 1;
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      return fail(Errc::invalid_argument, domain,
                  std::string(what) + " \"" + std::string(p) + "\" has a \"..\" component");
    }
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

}  // namespace lj
