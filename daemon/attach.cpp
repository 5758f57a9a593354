#include "daemon/attach.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "common/write_all.hpp"

namespace lj::daemon {

std::string stream_header(int stream, std::size_t n) {
  std::string h(8, '\0');
  h[0] = static_cast<char>(stream);
  for (int i = 0; i < 4; ++i) h[4 + i] = static_cast<char>((n >> (8 * (3 - i))) & 0xff);
  return h;
}

// Shared by the loop (StreamWriter calls) and the pump thread; `mu_` guards the queue and flags.
class AttachPump final : public StreamWriter, public std::enable_shared_from_this<AttachPump> {
 public:
  AttachPump(int socket, UniqueFd input, bool tty, std::function<void()> on_input_eof)
      : sock_(socket), input_(std::move(input)), tty_(tty), on_input_eof_(std::move(on_input_eof)) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
      wake_r_.reset(p[0]);
      wake_w_.reset(p[1]);
    }
  }

  void run(std::string early) {
    auto self = shared_from_this();
    std::thread([self, early = std::move(early)] { self->loop(early); }).detach();
  }

  // The loop's side: log records (or the end record) of the jail's output.
  bool write(std::string record) override {
    std::lock_guard lock(mu_);
    if (gone_) return false;
    auto j = nlohmann::json::parse(record, nullptr, false);
    if (!j.is_object()) return true;
    const std::string stream = j.value("stream", "");
    if (stream.empty()) return true;  // notices (lagged, truncated): not output
    std::string data = j.value("data", "");
    if (!tty_) queue_ += stream_header(stream == "stderr" ? 2 : 1, data.size());
    queue_ += data;
    wake();
    return true;
  }
  void end() override {
    std::lock_guard lock(mu_);
    ended_ = true;
    wake();
  }
  bool closed() const override {
    std::lock_guard lock(mu_);
    return gone_ || ended_;
  }
  std::size_t backlog() const override {
    std::lock_guard lock(mu_);
    return queue_.size();
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
  void loop(std::string early) {
    // A jail that stopped reading its stdin (it ended, or closed it) makes write(2) to the pipe
    // raise SIGPIPE, whose default kills ljd: blocked on this thread (a thread-directed signal
    // stays pending here), the write fails with EPIPE instead and only the input ends.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
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
          ended = ended_;
        }
        if (!out.empty() && !write_all(sock_.get(), out.data(), out.size())) break;
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
    std::lock_guard lock(mu_);
    gone_ = true;
    ::shutdown(sock_.get(), SHUT_RDWR);
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
  std::function<void()> on_input_eof_;
  mutable std::mutex mu_;
  std::string queue_;  // guarded by mu_
  bool ended_ = false;  // guarded by mu_
  bool gone_ = false;   // guarded by mu_
};

std::shared_ptr<StreamWriter> start_attach_pump(int socket, std::string early, UniqueFd input,
                                                bool tty, std::function<void()> on_input_eof) {
  auto p = std::make_shared<AttachPump>(socket, std::move(input), tty, std::move(on_input_eof));
  p->run(std::move(early));
  return p;
}

}  // namespace lj::daemon
