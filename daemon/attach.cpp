#include "daemon/attach.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/log.hpp"
#include "common/write_all.hpp"
#include "daemon/ndjson_log.hpp"

namespace lj::daemon {

std::string stream_header(int stream, std::size_t n) {
  std::string h(8, '\0');
  h[0] = static_cast<char>(stream);
  for (int i = 0; i < 4; ++i) h[4 + i] = static_cast<char>((n >> (8 * (3 - i))) & 0xff);
  return h;
}

// Shared by the loop (OutputSink calls) and the pump thread; `mu_` guards the queue and flags.
class AttachPump final : public OutputSink, public std::enable_shared_from_this<AttachPump> {
 public:
  AttachPump(int socket, UniqueFd input, bool tty, std::size_t limit,
             std::function<void()> on_input_eof)
      : sock_(socket),
        input_(std::move(input)),
        tty_(tty),
        limit_(limit),
        on_input_eof_(std::move(on_input_eof)) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
      wake_r_.reset(p[0]);
      wake_w_.reset(p[1]);
    }
  }

  void run(std::string early, Replay replay) {
    auto self = shared_from_this();
    std::thread([self, early = std::move(early), replay = std::move(replay)] {
      // A jail that stopped reading its stdin (it ended, or closed it) makes write(2) to the pipe
      // raise SIGPIPE, and so does a client gone to a write on the socket, whose default kills
      // ljd: blocked on this thread (a thread-directed signal stays pending here), the write
      // fails with EPIPE instead and only this attach ends.
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      ::pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
      if (self->replay(replay)) self->loop(early);
      else self->finish();
    }).detach();
  }

  // The loop's side: the jail's output, as read.
  bool output(int stream, std::string_view data) override {
    std::lock_guard lock(mu_);
    if (gone_) return false;
    if (data.empty()) return true;
    if (!tty_) queue_ += stream_header(stream == 1 ? 2 : 1, data.size());
    queue_.append(data);
    wake();
    return true;
  }
  bool full() const override {
    std::lock_guard lock(mu_);
    return !gone_ && queue_.size() + in_flight_ > limit_;
  }
  void end(const std::string&) override {
    std::lock_guard lock(mu_);
    ended_ = true;
    wake();
  }

 private:
  void wake() {
    char c = 1;
    (void)!::write(wake_w_.get(), &c, 1);
  }

  // The input, non-blocking: a terminal's master is already (the loop's reader shares its file
  // description, and Asio makes it so), and a full master or pipe must make the pump wait for
  // room, never end the input (a large paste into a terminal did) nor hold up the output.
  // What the client sent is read only once the last read is delivered: a client faster than the
  // jail waits in its socket, and ljd holds one read (64 KiB) of the stream at most.
  // The log's output records up to replay.up_to, before anything else; false when the client
  // went meanwhile.
  bool replay(const Replay& r) {
    if (r.path.empty()) return true;
    std::ifstream in(r.path);
    std::string out;
    int stream;
    std::string data;
    for (std::string line; std::getline(in, line);) {
      const std::uint64_t seq = record_seq(line);
      if (seq > r.up_to) break;
      if (seq == 0 || !output_of(line, &stream, &data) || data.empty()) continue;
      if (!tty_) out += stream_header(stream == 1 ? 2 : 1, data.size());
      out += data;
      if (out.size() >= 65536) {
        if (!write_all(sock_.get(), out.data(), out.size())) return false;
        out.clear();
      }
    }
    return out.empty() || write_all(sock_.get(), out.data(), out.size());
  }

  void finish() {
    std::lock_guard lock(mu_);
    gone_ = true;
    ::shutdown(sock_.get(), SHUT_RDWR);
  }

  void loop(std::string early) {
    bool input_open = static_cast<bool>(input_);
    if (input_open) ::fcntl(input_.get(), F_SETFL, ::fcntl(input_.get(), F_GETFL) | O_NONBLOCK);
    std::string in = input_open ? std::move(early) : std::string();
    std::size_t in_at = 0;  // in[in_at..] is still to be delivered
    char buf[65536];
    for (;;) {
      if (input_open && in_at < in.size() && !deliver(in, in_at)) {
        input_open = false;  // the jail closed its input: the rest of the client's is dropped
        input_.reset();
      }
      const bool room = in_at == in.size();
      // Once the input ended the socket is only written: a half-closed one stays readable (EOF).
      struct pollfd fds[3] = {{input_open && room ? sock_.get() : -1, POLLIN, 0},
                              {wake_r_.get(), POLLIN, 0},
                              {input_open && !room ? input_.get() : -1, POLLOUT, 0}};
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[1].revents) {
        while (::read(wake_r_.get(), buf, sizeof buf) > 0) {
        }
        std::string out;
        bool ended;
        {
          std::lock_guard lock(mu_);
          out.swap(queue_);
          in_flight_ = out.size();  // counted by full() until written
          ended = ended_;
        }
        const bool sent = out.empty() || write_all(sock_.get(), out.data(), out.size());
        {
          std::lock_guard lock(mu_);
          in_flight_ = 0;
        }
        if (!sent) break;
        if (ended) {
          std::lock_guard lock(mu_);
          if (queue_.empty()) break;
        }
      }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::read(sock_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) {
          in.assign(buf, static_cast<std::size_t>(n));
          in_at = 0;
          continue;
        }
        // The client's input ended (a half close, or it left): the jail's stdin with it.
        input_open = false;
        input_.reset();
        if (on_input_eof_) on_input_eof_();
        if (n < 0) break;
      } else if (fds[0].revents & POLLNVAL) {
        break;
      }
    }
    finish();
  }

  // Writes what the input takes now of in[at..]; false once it is closed for good (EPIPE, EIO).
  bool deliver(const std::string& in, std::size_t& at) {
    while (at < in.size()) {
      ssize_t n = ::write(input_.get(), in.data() + at, in.size() - at);
      if (n > 0) {
        at += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        return true;  // full: poll() waits for room
      } else {
        return false;
      }
    }
    return true;
  }

  UniqueFd sock_, input_, wake_r_, wake_w_;
  const bool tty_;
  const std::size_t limit_;
  std::function<void()> on_input_eof_;
  mutable std::mutex mu_;
  std::string queue_;  // guarded by mu_
  std::size_t in_flight_ = 0;  // guarded by mu_: bytes taken from the queue, being written
  bool ended_ = false;  // guarded by mu_
  bool gone_ = false;   // guarded by mu_
};

std::shared_ptr<OutputSink> start_attach_pump(int socket, std::string early, UniqueFd input,
                                              bool tty, std::size_t limit,
                                              std::function<void()> on_input_eof, Replay replay) {
  auto p = std::make_shared<AttachPump>(socket, std::move(input), tty, limit,
                                        std::move(on_input_eof));
  p->run(std::move(early), std::move(replay));
  return p;
}

bool RecordSink::output(int stream, std::string_view data) {
  std::string fields = output_fields(stream, data);
  fields[0] = '{';  // ",\"stream\":..." -> "{\"stream\":..."
  fields += '}';
  return w_->write(std::move(fields));
}

bool HeldSink::output(int stream, std::string_view data) {
  if (to_) return to_->output(stream, data);
  if (abandoned_) return false;
  held_ += data.size();
  early_.push_back(Chunk{stream, std::string(data)});
  return true;
}

void HeldSink::end(const std::string& end_record) {
  if (to_) return to_->end(end_record);
  ended_ = true;
  end_ = end_record;
}

void HeldSink::connect(std::shared_ptr<OutputSink> to) {
  to_ = std::move(to);
  for (auto& c : early_) to_->output(c.stream, c.data);
  early_.clear();
  held_ = 0;
  if (ended_) to_->end(end_);
}

void HeldSink::abandon() {
  if (to_) return;
  abandoned_ = true;
  early_.clear();
  held_ = 0;
}

void Attachments::output(int stream, std::string_view data) {
  bool full = false;
  std::erase_if(sinks_, [&](const std::shared_ptr<OutputSink>& s) {
    if (!s->output(stream, data)) return true;
    full = full || s->full();
    return false;
  });
  if (full && !paused_ && !unpaced_) {
    paused_ = true;
    pace_(true);
    look(std::chrono::milliseconds(1));
  }
}

void Attachments::look(std::chrono::milliseconds next) {
  timer_ = loop_.after(next, [this, next] {
    for (const auto& s : sinks_) {
      if (s->full()) return look(std::min(next * 2, std::chrono::milliseconds(20)));
    }
    paused_ = false;
    pace_(false);
  });
}

void Attachments::unpace() {
  unpaced_ = true;
  timer_.reset();
  if (paused_) {
    paused_ = false;
    pace_(false);
  }
}

void Attachments::end(const std::string& end_record) {
  for (auto& s : sinks_) s->end(end_record);
  sinks_.clear();
  timer_.reset();
  if (paused_) {
    paused_ = false;
    pace_(false);
  }
}

}  // namespace lj::daemon
