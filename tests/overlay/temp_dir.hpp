// Test helpers. A unique temporary directory for one test, removed with everything in it when the
// test ends.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace lj::overlay::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() /
                        ("lj-overlay-test-" + std::to_string(::getpid()) + "-XXXXXX"))
                           .string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The whole content of a file ("" when it cannot be read). stdio, not iostreams: g++ 12's
// -Wnull-dereference fires inside <streambuf> for istreambuf_iterator.
inline std::string slurp(const std::filesystem::path& p) {
  std::string out;
  FILE* f = std::fopen(p.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

}  // namespace lj::overlay::test
