// The build context: the directory holding the Jailfile. Two jobs on it, both without ever
// following a symbolic link: a digest of its contents (the cache key's part), and the host-side
// copy into the staging layer (the `copy DEST` directive).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace lj::build {

// SHA-256 of bytes, as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

// An incremental SHA-256 (OpenSSL EVP). Fields fed with add_field() are length-prefixed, so
// ("ab","c") and ("a","bc") digest differently.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void add(std::string_view bytes);
  void add_field(std::string_view bytes);
  std::string hex();  // finishes; the object is spent afterwards

 private:
  void* ctx_;  // EVP_MD_CTX*, kept out of the header
};

// Digest of a directory tree: for every entry below `dir` (sorted by path, bytewise), its
// relative path, type, permission bits (07777), and for regular files the contents, for symlinks
// the target text. Owners and times are left out (a checkout's mtimes change; its contents do
// not). Errors: Errc::invalid_argument for a socket, fifo or device node (named); I/O errors with
// the path. `dir` itself must be a directory (not a symlink to one).
Result<std::string> digest_tree(const std::filesystem::path& dir);

// Copies the contents of `src` into `dst` (created with its missing parents, mode 0755):
// directories, regular files (contents and permission bits) and symlinks (as symlinks, targets
// unchanged: a link pointing outside the context is copied, never followed). Refuses sockets,
// fifos and device nodes before copying anything. Owners are kept when running as root.
Status copy_tree(const std::filesystem::path& src, const std::filesystem::path& dst);

// Creates the directories of `dest` ("/usr/local/app") below `upper` that are missing, each with
// the mode and owner of the same directory in the topmost of the `lower` layers that has it (0755
// root otherwise), so the copy does not change /usr or /usr/local in the merged view. A path that
// is not a directory in the layers (a symlink such as Debian's /bin -> usr/bin) is refused:
// copying through it would hide the link in the merged view.
Status prepare_copy_dest(const std::vector<std::filesystem::path>& lower,
                         const std::filesystem::path& upper, const std::string& dest);

}  // namespace lj::build
