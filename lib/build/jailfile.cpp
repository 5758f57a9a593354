#include "build/jailfile.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "build/jailfile_checks.hpp"
#include "common/fd.hpp"
#include "common/sys.hpp"

namespace lj::build {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

struct Token {
  std::string_view text;
  int column = 0;  // 1-based
};

// One directive line cut into tokens. A '#' at the start of a token opens a comment that runs to
// the end of the line; a '#' inside a token is part of it (and fails that token's checks).
struct Line {
  std::vector<Token> tokens;
  std::string_view rest_after_first;  // the text after the first token, comment removed, trimmed
  int rest_column = 0;
};

Line split(std::string_view text) {
  Line line;
  std::size_t i = 0;
  std::size_t end = text.size();
  while (i < end) {
    while (i < end && is_blank(text[i])) ++i;
    if (i >= end) break;
    if (text[i] == '#') {
      end = i;
      break;
    }
    std::size_t start = i;
    while (i < end && !is_blank(text[i])) ++i;
    line.tokens.push_back({text.substr(start, i - start), static_cast<int>(start) + 1});
  }
  if (!line.tokens.empty()) {
    std::size_t from =
        static_cast<std::size_t>(line.tokens[0].column - 1) + line.tokens[0].text.size();
    while (from < end && is_blank(text[from])) ++from;
    std::size_t to = end;
    while (to > from && is_blank(text[to - 1])) --to;
    line.rest_after_first = text.substr(from, to - from);
    line.rest_column = static_cast<int>(from) + 1;
  }
  return line;
}

tl::unexpected<ParseError> error_at(int line, int column, std::string message) {
  return tl::unexpected(ParseError{{line, column}, std::move(message)});
}

constexpr std::array<std::string_view, 6> kDirectives = {"name", "version", "world", "from",
                                                         "copy", "privileges"};

}  // namespace

std::string ParseError::what() const {
  return std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " + message;
}

std::string random_version_suffix() {
  static constexpr std::string_view kLetters = "abcdefghijklmnopqrstuvwxyz";
  static constexpr std::string_view kAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  std::string s;
  s += kLetters[std::uniform_int_distribution<std::size_t>(0, kLetters.size() - 1)(gen)];
  std::uniform_int_distribution<std::size_t> pick(0, kAlnum.size() - 1);
  while (s.size() < 10) s += kAlnum[pick(gen)];
  return s;
}

tl::expected<Jailfile, ParseError> parse_jailfile(std::string_view text,
                                                  const ParseOptions& options) {
  Jailfile jf;
  // The line of each directive seen so far (0: not seen), in kDirectives order.
  std::array<int, kDirectives.size()> seen{};
  bool have_script = false;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++line_no;
    std::size_t nl = text.find('\n', pos);
    std::size_t line_end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view raw = text.substr(pos, line_end - pos);
    if (raw.rfind("#!", 0) == 0) {
      jf.script = std::string(text.substr(pos));
      jf.script_line = line_no;
      have_script = true;
      break;
    }
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    for (std::size_t i = 0; i < raw.size(); ++i) {
      auto c = static_cast<unsigned char>(raw[i]);
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return error_at(line_no, static_cast<int>(i) + 1, "control character in a directive line");
      }
    }

    Line line = split(raw);
    if (line.tokens.empty()) continue;  // blank or comment
    const Token& keyword = line.tokens[0];
    std::size_t index = 0;
    while (index < kDirectives.size() && kDirectives[index] != keyword.text) ++index;
    if (index == kDirectives.size()) {
      return error_at(line_no, keyword.column,
                      "unknown directive '" + std::string(keyword.text) +
                          "' (expected name, version, world, from, copy or privileges; the "
                          "script starts at a line beginning with #!)");
    }
    if (seen[index] != 0) {
      return error_at(line_no, keyword.column,
                      "duplicate directive '" + std::string(keyword.text) +
                          "' (first given on line " + std::to_string(seen[index]) + ")");
    }
    seen[index] = line_no;
    std::string_view directive = keyword.text;
    if (directive == "from" && line.tokens.size() >= 2 && line.tokens[1].text == "image") {
      if (line.tokens.size() != 3) {
        const Token& at = line.tokens.size() > 3 ? line.tokens[3] : line.tokens[1];
        int col = line.tokens.size() > 3 ? at.column : at.column + static_cast<int>(at.text.size()) + 1;
        return error_at(line_no, col,
                        line.tokens.size() > 3
                            ? "unexpected argument '" + std::string(at.text) +
                                  "' to 'from image' (an image takes no constraint: pin it by digest)"
                            : "missing image reference after 'from image' (NAME:TAG or NAME@sha256:...)");
      }
      const Token& ref = line.tokens[2];
      if (auto bad = check_image_reference(ref.text)) {
        return error_at(line_no, ref.column + bad->offset, "bad image reference: " + bad->message);
      }
      jf.from_image = ImageRef{std::string(ref.text), {line_no, ref.column}};
      continue;
    }
    const std::size_t want_args = directive == "from" ? 2 : 1;
    if (line.tokens.size() < want_args + 1) {
      int col = static_cast<int>(raw.size()) + 1;
      std::string what = directive == "from" && line.tokens.size() == 2
                             ? "missing constraint after 'from " +
                                   std::string(line.tokens[1].text) + "' (use '*' for any version)"
                             : "missing argument to '" + std::string(directive) + "'";
      // The column just after the last token: where the argument should have been.
      const Token& last = line.tokens.back();
      col = last.column + static_cast<int>(last.text.size()) + 1;
      return error_at(line_no, col, what);
    }
    if (directive == "privileges") {
      // The rest of the line is the list: items may have blanks around their commas.
      std::size_t off = 0;
      auto p = overlay::parse_privileges(line.rest_after_first, &off);
      if (!p) {
        return error_at(line_no, line.rest_column + static_cast<int>(off),
                        "bad privileges: " + p.error().message());
      }
      if (p->empty()) {
        return error_at(line_no, line.rest_column, "missing argument to 'privileges'");
      }
      jf.privileges = std::move(*p);
      continue;
    }
    if (directive != "from" && line.tokens.size() > 2) {
      return error_at(line_no, line.tokens[2].column,
                      "unexpected argument '" + std::string(line.tokens[2].text) + "' to '" +
                          std::string(directive) + "'");
    }
    const Token& arg = line.tokens[1];
    if (directive == "name" || directive == "from") {
      if (auto bad = check_overlay_name(arg.text)) {
        return error_at(line_no, arg.column + bad->offset, bad->message);
      }
    }
    if (directive == "name") {
      jf.name = std::string(arg.text);
    } else if (directive == "version") {
      if (auto bad = check_version(arg.text)) {
        return error_at(line_no, arg.column + bad->offset, "bad version: " + bad->message);
      }
      jf.version = std::string(arg.text);
    } else if (directive == "world") {
      if (auto bad = check_world_name(arg.text)) {
        return error_at(line_no, arg.column + bad->offset, bad->message);
      }
      jf.world = std::string(arg.text);
    } else if (directive == "from") {
      // The constraint is the rest of the line after the name (comment removed).
      std::string_view after_kw = line.rest_after_first;
      std::size_t name_end =
          static_cast<std::size_t>(arg.column - line.rest_column) + arg.text.size();
      std::string_view constraint = after_kw.substr(name_end);
      std::size_t lead = 0;
      while (lead < constraint.size() && is_blank(constraint[lead])) ++lead;
      constraint.remove_prefix(lead);
      int constraint_col = line.rest_column + static_cast<int>(name_end + lead);
      if (auto bad = check_constraint(constraint)) {
        return error_at(line_no, constraint_col + bad->offset, "bad constraint: " + bad->message);
      }
      jf.from =
          ParentRef{std::string(arg.text), std::string(constraint), {line_no, keyword.column}};
    } else if (directive == "copy") {
      auto dest = normalize_copy_dest(arg.text);
      if (!dest) {
        return error_at(line_no, arg.column + dest.error().offset, dest.error().message);
      }
      jf.copy_dest = std::move(*dest);
    }
  }

  // The end of the text, where something missing should have been.
  SourcePos eof{line_no + 1, 1};
  if (!text.empty() && text.back() != '\n') {
    std::size_t last_nl = text.rfind('\n');
    std::size_t last_len =
        last_nl == std::string_view::npos ? text.size() : text.size() - last_nl - 1;
    eof = {line_no, static_cast<int>(last_len) + 1};
  }
  if (seen[0] == 0) {
    return error_at(have_script ? jf.script_line : eof.line, have_script ? 1 : eof.column,
                    "missing name: a Jailfile needs 'name NAMESPACE/NAME' before its script");
  }
  if (!have_script) {
    return error_at(eof.line, eof.column,
                    "missing script: the build script starts at a line beginning with #! "
                    "(e.g. #!/bin/sh)");
  }
  if (seen[1] == 0) {
    jf.version = "0.0.0-" + (options.version_suffix.empty() ? random_version_suffix()
                                                            : options.version_suffix);
    jf.version_generated = true;
  }
  if (jf.from_image && seen[2] != 0) {
    return error_at(seen[2], 1,
                    "'world' with 'from image': the image is the base of this overlay, not a world");
  }
  if (seen[2] == 0 && !jf.from_image) {
    jf.world = options.default_world;
    jf.world_defaulted = true;
  }
  return jf;
}

Result<std::string> read_jailfile(const std::filesystem::path& path) {
  const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  const std::string name = path.filename().string();
  UniqueFd dirfd(LJ_SYS("open", ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
  if (!dirfd) return fail_errno("build", "open " + dir.string());
  // O_NONBLOCK: a fifo named Jailfile must not hang the open; it is refused just below.
  UniqueFd fd(LJ_SYS(
      "open", ::openat(dirfd.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)));
  if (!fd && errno == ELOOP) {
    return fail(Errc::invalid_argument, "build",
                path.string() +
                    " is a symbolic link: a Jailfile must be a regular file of the "
                    "build context");
  }
  if (!fd) return fail_errno("build", "open " + path.string());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("build", "fstat " + path.string());
  if (!S_ISREG(st.st_mode)) {
    return fail(Errc::invalid_argument, "build",
                path.string() + " is not a regular file: a Jailfile must be one");
  }
  auto too_large = [&] {
    return fail(Errc::limit, "build",
                path.string() + " is larger than " + std::to_string(kMaxJailfileBytes) +
                    " bytes, the limit of a Jailfile");
  };
  if (static_cast<std::uint64_t>(st.st_size) > kMaxJailfileBytes) return too_large();
  std::string text;
  std::array<char, 16384> buf{};
  for (;;) {
    ssize_t n = LJ_SYS("read", ::read(fd.get(), buf.data(), buf.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("build", "read " + path.string());
    if (n == 0) return text;
    text.append(buf.data(), static_cast<std::size_t>(n));
    if (text.size() > kMaxJailfileBytes) return too_large();  // it grew since the fstat
  }
}

Result<Jailfile> load_jailfile(const std::filesystem::path& path, const ParseOptions& options) {
  auto text = LJ_TRY(read_jailfile(path));
  auto jf = parse_jailfile(text, options);
  if (!jf) return fail(Errc::invalid_argument, "build", path.string() + ":" + jf.error().what());
  return std::move(*jf);
}

}  // namespace lj::build
