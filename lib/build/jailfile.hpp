// The Jailfile: lightjail's build script format (seeds/000, docs/jailfile.md is the grammar).
//
//   # a comment
//   name lang/ruby          # required, MUST contain a slash
//   version 2.1.1           # optional, default 0.0.0-<random>
//   world 10.0-RELEASE      # optional, default: the caller's default world
//   from lang/common ~> 1.0 # optional parent overlay; the constraint is the rest of the line
//   from image REF          # or: an OCI image (tag or digest) as the base, instead of a world
//   copy /                  # optional: the Jailfile's directory goes to this path in the overlay
//   privileges device=/dev/fuse, raw_sockets   # optional: what jails on it need beyond the defaults
//   #!/bin/sh               # the script: from the first line starting with "#!" to the end
//   pkg install -y ruby21
//
// Parsing is pure (no filesystem, no catalog): it checks the syntax of every directive, the name's
// character set, and the version and constraint with lib/overlay's semver parser. Resolution of
// the world and the parent is the builder's job.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "overlay/privileges.hpp"

namespace lj::build {

// A 1-based position in the Jailfile text. Columns count bytes.
struct SourcePos {
  int line = 0;
  int column = 0;
};

struct ParentRef {
  std::string name;        // "lang/common"
  std::string constraint;  // "~> 1.0", as written (trimmed, comment removed)
  SourcePos pos;           // of the `from` keyword
};

// `from image REF`: the build stands on a stored OCI image instead of a world. "image" cannot be
// an overlay name (names contain a slash), so the two forms of `from` never overlap.
struct ImageRef {
  std::string reference;  // as written: "127.0.0.1:5000/bb:1", "bb@sha256:..."
  SourcePos pos;          // of the reference
};

struct Jailfile {
  std::string name;                // "lang/ruby": namespace/name
  std::string version;             // as written, or the generated default
  bool version_generated = false;  // true when `version` was absent
  std::string world;               // as written, or ParseOptions::default_world (may be empty)
  bool world_defaulted = false;    // true when `world` was absent
  std::optional<ParentRef> from;
  std::optional<ImageRef> from_image;    // then `from` is empty and `world` too (the image is the base)
  std::optional<std::string> copy_dest;  // absolute, normalized ("/", "/app")
  // `privileges ITEM, ...`: what a jail on the overlay needs beyond the defaults (the items of
  // overlay/privileges.hpp); recorded in the manifest, granted only by the host's policy.
  overlay::Privileges privileges;
  std::string script;                    // from the "#!" line to the end of the text, verbatim
  int script_line = 0;                   // line of the "#!"
};

struct ParseOptions {
  // The world used when the Jailfile has no `world` line: `uname -r` on FreeBSD, the configured
  // default world on Linux. Empty: Jailfile::world stays empty and the builder refuses it.
  std::string default_world;
  // The suffix of the default version "0.0.0-<suffix>"; empty: a random one. Tests pin it.
  std::string version_suffix;
};

// A parse failure: where, and what. message has no position in it; what() adds it.
struct ParseError {
  SourcePos pos;
  std::string message;
  // "3:7: unknown directive 'nmae'"
  std::string what() const;
};

// Parses a Jailfile. Pure: never touches the filesystem.
tl::expected<Jailfile, ParseError> parse_jailfile(std::string_view text,
                                                  const ParseOptions& options);

// The largest Jailfile read: 1 MiB (docs/jailfile.md). Real ones are a few kilobytes; the limit
// keeps a hostile context from growing ljd (a Jailfile that was /dev/zero grew it to the OOM
// killer).
inline constexpr std::size_t kMaxJailfileBytes = std::size_t{1} << 20;

// The bytes of the Jailfile at `path`, read like every file of an untrusted build context: the
// last component is opened with O_NOFOLLOW from its directory (a symlink, to /etc/shadow say, is
// refused without reading it), it must be a regular file (not a device, fifo or socket), and at
// most kMaxJailfileBytes. Errors: Errc::invalid_argument (a symlink, not a regular file),
// Errc::limit (too large), not_found/system for I/O; they name the path, never the content.
Result<std::string> read_jailfile(const std::filesystem::path& path);

// Reads (read_jailfile) and parses a Jailfile from disk. Errors: Errc::not_found / system for I/O
// (domain "build"); Errc::invalid_argument for syntax, with the message "<path>:<line>:<column>:
// <what>".
Result<Jailfile> load_jailfile(const std::filesystem::path& path, const ParseOptions& options);

// A random default-version suffix: 10 characters of [a-z0-9], starting with a letter (so it is a
// valid semver pre-release identifier whatever follows).
std::string random_version_suffix();

}  // namespace lj::build
