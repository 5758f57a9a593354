// Image references as docker and podman spell them: [registry[:port]/]repository[:tag][@digest].
// Normalized like docker's: a first component with a '.' or a ':', or "localhost", is a registry;
// otherwise the registry is docker.io and a one-component repository gets "library/". The tag
// is "latest" when neither tag nor digest is given. The store names images by str().
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "image/digest.hpp"

namespace lj::image {

struct Reference {
  std::string registry;    // "docker.io", "127.0.0.1:5000"
  std::string repository;  // "library/busybox"
  std::string tag;         // "latest", or empty when pinned by digest only
  std::optional<Digest> digest;

  // Errc::invalid_argument naming the part that is wrong.
  static Result<Reference> parse(std::string_view text);
  // "registry/repository:tag", "registry/repository@sha256:...", or both.
  std::string str() const;
  // "registry/repository"
  std::string name() const { return registry + "/" + repository; }
  // What to ask the registry for: the digest when pinned, else the tag.
  std::string manifest_ref() const { return digest ? digest->str() : tag; }
};

}  // namespace lj::image
