// The stored form of a stream (a jail's output, a build's output): one NDJSON record per line,
// each starting with {"seq":N, in a file under root/.ljd. Written by the loop thread only, with
// plain write(2) (no fsync: losing the tail of a log on power loss is acceptable, a stalled loop
// is not). Readers replay the file, then follow the live records.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "daemon/http_types.hpp"

namespace lj::daemon {

// The fields of one output record after its seq (",\"stream\":\"stdout\",\"data\":..."), for
// `stream` 0 (stdout) or 1 (stderr): the bytes as a JSON string in "data" when they are UTF-8
// and their escapes do not more than double them, else base64 in "data_base64" (JSON
// strings hold only Unicode: replacing the rest, as U+FFFD, altered binary output; and NULs,
// 6 bytes each escaped, multiplied on disk). Lossless either way (proto/openapi.yaml, LogRecord).
std::string output_fields(int stream, std::string_view data);
// The stream (0 stdout, 1 stderr) and bytes of an output record; false when `record` (one
// NDJSON line) is not one (an end record, a notice, a bad line).
bool output_of(std::string_view record, int* stream, std::string* data);

// The seq of one stored line, 0 when it is not a record.
std::uint64_t record_seq(std::string_view line);

// Writes every stored record of `path` with seq > after to `w`; returns the last seq stored.
std::uint64_t replay_records(const std::string& path, std::uint64_t after, StreamWriter* w);

// One stream being written: the file, the seq counter and the live followers.
class RecordLog {
 public:
  // Opens `path` for appending (created 0640); continues the seq of what is already there.
  explicit RecordLog(std::string path);
  const std::string& path() const { return path_; }
  std::uint64_t last_seq() const { return seq_; }
  // Bytes stored in the file (what was there at open, plus every append since).
  std::uint64_t bytes() const { return bytes_; }

  // Appends one record: `fields` is the JSON text after the seq (",\"data\":...") without braces.
  // Followers whose backlog exceeds `backlog_limit` get a `lagged` record and their stream ends.
  void append(std::string_view fields, std::size_t backlog_limit);
  // Adds a follower that has seen everything up to `after`.
  void follow(std::shared_ptr<StreamWriter> w, std::uint64_t after);
  // Writes `end_record` to every follower and ends their streams.
  void end_followers(const std::string& end_record);
  void close() { fd_.reset(); }

 private:
  struct Follower {
    std::shared_ptr<StreamWriter> w;
    std::uint64_t after;
  };
  std::string path_;
  UniqueFd fd_;
  std::uint64_t seq_ = 0;
  std::uint64_t bytes_ = 0;
  std::vector<Follower> followers_;
};

}  // namespace lj::daemon
