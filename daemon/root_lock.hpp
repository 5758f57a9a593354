// One ljd per root: an exclusive flock(2) on <root>/.ljd/lock, taken before the index is opened
// and held for ljd's life (the kernel drops it when ljd dies, however it dies). The holder's pid
// is written into the file so that a refused second ljd can name it. Without it a second ljd on
// the same root (another socket) "recovers" the first one's jails and kills them.
#pragma once

#include <filesystem>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace lj::daemon {

class RootLock {
 public:
  // Errc::busy, naming the holder's pid, when another process holds the lock.
  static Result<RootLock> acquire(const std::filesystem::path& root);

  const std::filesystem::path& path() const { return path_; }

 private:
  RootLock(UniqueFd fd, std::filesystem::path path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::filesystem::path path_;
};

}  // namespace lj::daemon
