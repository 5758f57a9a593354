// Attached clients of a jail's or an exec's output (docs/attach.md).
//
// The output goes to an attached client as the bytes the jail wrote, never through the JSON of
// the log (whose strings hold only Unicode): raw with a terminal, else each chunk behind
// Docker's 8-byte stream header (byte 0: 1 stdout, 2 stderr; bytes 4-7 the big-endian length),
// so the two stay apart. The pump (one thread per upgraded connection) also copies the client's
// bytes into the jail's input (stdin pipe or terminal master), one read at a time, waiting for
// room when the input is full, so a client faster than the jail waits in its socket instead of
// in ljd's memory.
//
// Flow control, the other way: a client holds at most `limit` bytes of output in ljd (the
// pump's queue plus the write in flight). Past that it is full(), and the loop stops reading the
// output (Attachments pauses the readers) until no client is: the jail's writes then wait in its
// pipe, as a command piped into a slow reader waits. A client that does not read holds the
// jail's output, and its log, until it reads or goes; closing the connection releases it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "daemon/http_types.hpp"
#include "daemon/loop.hpp"

namespace lj::daemon {

// Where output goes, as bytes: an attached client's pump, an NDJSON stream (RecordSink), or a
// holder until the client connects (HeldSink). Loop thread.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // One chunk of `stream` (0 stdout, 1 stderr). False once the client is gone: drop the sink.
  virtual bool output(int stream, std::string_view data) = 0;
  // Past its bound: the producer stops reading the output until it is not.
  virtual bool full() const = 0;
  // The output has ended; `end_record` ({"type":"end",...}) is for streams of records.
  virtual void end(const std::string& end_record) = 0;
};

// What an attach with logs=true sends first: the output records of the log at `path` up to seq
// `up_to`, read from the file by the pump's thread at the client's pace (a long log is never
// held in memory). Empty path: nothing.
struct Replay {
  std::string path;
  std::uint64_t up_to = 0;
};

// Starts the pump on `socket` (owned from here). `early`: bytes the client sent after its request,
// input already. `on_input_eof` runs on the pump's thread when the client ends its input (the
// caller posts it to the loop). `limit`: the output it holds before it is full(). Output given
// to the sink goes out after the replay.
std::shared_ptr<OutputSink> start_attach_pump(int socket, std::string early, UniqueFd input,
                                              bool tty, std::size_t limit,
                                              std::function<void()> on_input_eof,
                                              Replay replay = {});

// Docker's stream header for one chunk of `stream` (1 stdout, 2 stderr) of n bytes.
std::string stream_header(int stream, std::size_t n);

// Output as NDJSON records on `w` (curl --unix-socket): {"stream":..,"data"|"data_base64":..}
// (output_fields), then the end record. Full while w's backlog exceeds `limit`.
class RecordSink final : public OutputSink {
 public:
  RecordSink(std::shared_ptr<StreamWriter> w, std::size_t limit) : w_(std::move(w)), limit_(limit) {}
  bool output(int stream, std::string_view data) override;
  bool full() const override { return w_->backlog() > limit_; }
  void end(const std::string& end_record) override {
    w_->write(end_record);
    w_->end();
  }

 private:
  std::shared_ptr<StreamWriter> w_;
  std::size_t limit_;
};

// Holds output until the client's sink is connected (an exec starts before its answer, so its
// first output comes before the upgrade or the stream exists), then forwards everything, in
// order, and the end. Full past `limit` held. abandon(): nobody will connect (the connection went
// before the upgrade): what was held is dropped and so is the output from then on.
class HeldSink final : public OutputSink {
 public:
  explicit HeldSink(std::size_t limit) : limit_(limit) {}
  bool output(int stream, std::string_view data) override;
  bool full() const override { return to_ ? to_->full() : !abandoned_ && held_ > limit_; }
  void end(const std::string& end_record) override;
  void connect(std::shared_ptr<OutputSink> to);
  void abandon();

 private:
  struct Chunk {
    int stream;
    std::string data;
  };
  std::size_t limit_;
  std::shared_ptr<OutputSink> to_;
  std::vector<Chunk> early_;
  std::size_t held_ = 0;
  bool abandoned_ = false;
  std::string end_;  // the end record, once ended before the connect
  bool ended_ = false;
};

// Calls HeldSink::abandon() when destroyed unless disarmed: captured by the upgrade or stream
// callback that would connect it, so that a callback the server drops uncalled releases the
// output instead of holding it forever.
class ConnectOrAbandon {
 public:
  explicit ConnectOrAbandon(std::shared_ptr<HeldSink> h) : h_(std::move(h)) {}
  ConnectOrAbandon(const ConnectOrAbandon&) = delete;
  ConnectOrAbandon& operator=(const ConnectOrAbandon&) = delete;
  ~ConnectOrAbandon() {
    if (h_) h_->abandon();
  }
  void connect(std::shared_ptr<OutputSink> to) {
    if (auto h = std::move(h_)) h->connect(std::move(to));
  }

 private:
  std::shared_ptr<HeldSink> h_;
};

// The clients attached to one output (a jail's or an exec's) and the back-pressure they put on
// its readers: once one is full() after a chunk, `pace(true)` pauses the readers; a timer looks
// again (1 ms, backing off to 20 ms while it stays full) and `pace(false)` resumes them once none
// is. A client that is gone is dropped at its next chunk or look. Loop thread.
class Attachments {
 public:
  Attachments(Loop& loop, std::function<void(bool pause)> pace)
      : loop_(loop), pace_(std::move(pace)) {}
  void add(std::shared_ptr<OutputSink> s) { sinks_.push_back(std::move(s)); }
  void output(int stream, std::string_view data);
  // The end to every client, then none is left (and the readers are not held).
  void end(const std::string& end_record);
  // From now on the readers are never paused: every writer of the output is dead, and what is
  // left is bounded (a pipe's worth), so a client that does not read cannot hold the end.
  void unpace();

 private:
  void look(std::chrono::milliseconds next);

  Loop& loop_;
  std::function<void(bool)> pace_;
  std::vector<std::shared_ptr<OutputSink>> sinks_;
  bool paused_ = false;
  bool unpaced_ = false;
  std::unique_ptr<Watch> timer_;
};

}  // namespace lj::daemon
