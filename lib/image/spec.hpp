// The OCI image-spec documents this module reads and writes (image-spec v1.1: image-index.md,
// manifest.md, config.md, descriptor.md), and Docker's v2 schema 2 equivalents, which registries
// and `docker save` still serve (their media types differ; the fields used here are the same).
// Parsing is strict where a wrong value would mislead (a digest, a size, a media type) and
// lenient about fields it does not use. Documents are limited in size before they are parsed
// (kMaxDocumentBytes): a registry or an archive cannot make ljd hold an unbounded JSON text.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "image/digest.hpp"

namespace lj::image {

// Manifests, indexes and configs larger than this are refused (Errc::limit) before they are
// read in full. 4 MiB is what distribution's registry itself accepts for a manifest PUT; real
// configs are a few KiB, and an index of every platform a few tens.
inline constexpr std::size_t kMaxDocumentBytes = 4 * 1024 * 1024;

namespace media {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
// Every layer type above is a tar, possibly compressed; the unpacker sniffs the compression
// from the content, so this only says whether a descriptor is a layer at all.
bool is_layer(std::string_view media_type);
bool is_index(std::string_view media_type);
bool is_manifest(std::string_view media_type);
}  // namespace media

struct Platform {
  std::string os;            // "linux", "freebsd"
  std::string architecture;  // GOARCH spelling: "amd64", "arm64"
  std::string variant;       // "v8", or empty
  bool operator==(const Platform&) const = default;
  std::string str() const;   // "linux/amd64", "linux/arm64/v8"
};

// This host's platform: the OS this was built for and uname(2)'s machine mapped to GOARCH
// names (x86_64 -> amd64, aarch64 -> arm64). Platform code: platform_<os>.cpp.
Platform host_platform();

struct Descriptor {
  std::string media_type;
  Digest digest;
  std::int64_t size = 0;
  std::optional<Platform> platform;            // index entries only
  std::map<std::string, std::string> annotations;
};

struct Index {
  std::vector<Descriptor> manifests;
};

struct Manifest {
  std::string media_type;  // as the document says (or as it was served when the document omits it)
  Descriptor config;
  std::vector<Descriptor> layers;
};

// The parts of the image configuration that a jail uses (config.md "Properties"), and the
// rootfs.diff_ids that the unpacked layers are verified against.
struct ImageConfig {
  Platform platform;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;        // "KEY=value"
  std::string user;
  std::string working_dir;
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::string stop_signal;
  std::map<std::string, std::string> labels;
  std::vector<Digest> diff_ids;
};

// The kind of a document fetched by tag or by digest: its mediaType field when present, else
// the one it was served with (`served`), else told apart by its shape (manifests[] vs layers[]).
enum class DocKind { index, manifest };
Result<DocKind> document_kind(std::string_view json, std::string_view served = {});

Result<Index> parse_index(std::string_view json);
Result<Manifest> parse_manifest(std::string_view json);
Result<ImageConfig> parse_config(std::string_view json);

// The manifest for `want` in an index: exact os/architecture match; a variant is compared only
// when both sides give one. Errc::not_found lists the platforms the index offers.
Result<Descriptor> select_platform(const Index& index, const Platform& want);

// Serializes an OCI manifest (used by imports that synthesize one, and by pushes).
std::string manifest_json(const Manifest& m);

}  // namespace lj::image
