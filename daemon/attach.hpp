// One attached client after the HTTP upgrade (docs/attach.md): a thread that copies the client's
// bytes into the jail's input (stdin pipe or terminal master), one read at a time, waiting for
// room when the input is full, so a client faster than the jail waits in its socket instead of in
// ljd's memory and a full terminal never ends the input; and the jail's output,
// which the loop hands over as log records (it is a StreamWriter follower of the jail's log), to
// the client: raw with a terminal, else each chunk behind Docker's 8-byte stream header
// (stream 1 stdout, 2 stderr, 0 0 0, big-endian length) so the two stay apart.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "daemon/http_types.hpp"

namespace lj::daemon {

class AttachPump;

// Starts the pump on `socket` (owned from here). `early`: bytes the client sent after its request,
// input already. `on_input_eof` runs on the pump's thread when the client ends its input (the
// caller posts it to the loop). Returns the writer to register as the jail's log follower.
std::shared_ptr<StreamWriter> start_attach_pump(int socket, std::string early, UniqueFd input,
                                                bool tty, std::function<void()> on_input_eof);

// Docker's stream header for one chunk of `stream` (1 stdout, 2 stderr) of n bytes.
std::string stream_header(int stream, std::size_t n);

// A writer that holds what is written until the client's stream is connected (attach and exec
// register it before their upgrade has a socket), then forwards everything, in order, and the end.
// Past `limit` bytes held, writes are refused: a client that never connects must not make ljd
// hold a command's whole output.
class HeldStream final : public StreamWriter {
 public:
  explicit HeldStream(std::size_t limit) : limit_(limit) {}
  bool write(std::string r) override {
    if (to_) return to_->write(std::move(r));
    if (held_ > limit_) return false;
    held_ += r.size();
    early_.push_back(std::move(r));
    return true;
  }
  void end() override {
    if (to_) return to_->end();
    ended_ = true;
  }
  bool closed() const override { return to_ ? to_->closed() : false; }
  std::size_t backlog() const override { return to_ ? to_->backlog() : 0; }
  void connect(std::shared_ptr<StreamWriter> to) {
    to_ = std::move(to);
    for (auto& r : early_) to_->write(std::move(r));
    early_.clear();
    if (ended_) to_->end();
  }

 private:
  std::size_t limit_;
  std::shared_ptr<StreamWriter> to_;
  std::vector<std::string> early_;
  std::size_t held_ = 0;
  bool ended_ = false;
};

}  // namespace lj::daemon
