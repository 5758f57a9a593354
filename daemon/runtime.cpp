// The Asio/Beast translation unit (see runtime.hpp). Shaped after Beast's awaitable server example:
// one coroutine per connection, `expires_after` on every read and write, header and body limits,
// and shutdown by closing the acceptor and the idle connections.
#include "daemon/runtime.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <set>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "common/log.hpp"
#include "daemon/http_parse.hpp"
#include "daemon/peer.hpp"
#include "daemon/router.hpp"

namespace lj::daemon {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Local = net::local::stream_protocol;
using HttpStream = beast::basic_stream<Local, net::any_io_executor>;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t kReadChunk = 16 << 10;

namespace {

// ---- Loop ---------------------------------------------------------------------------------------

class TimerWatch final : public Watch {
 public:
  struct State {
    explicit State(net::io_context& io) : timer(io) {}
    net::steady_timer timer;
    bool cancelled = false;
  };
  explicit TimerWatch(std::shared_ptr<State> s) : s_(std::move(s)) {}
  ~TimerWatch() override { cancel(); }
  void cancel() override {
    s_->cancelled = true;
    s_->timer.cancel();
  }

 private:
  std::shared_ptr<State> s_;
};

class FdWatch final : public Watch {
 public:
  struct State {
    State(net::io_context& io, int fd) : sd(io, fd) {}
    ~State() {
      if (!owns) sd.release();
    }
    net::posix::stream_descriptor sd;
    bool owns = false;
    bool cancelled = false;
    // A pipe reader's: paused (ReadWatch::pause) and, when its last read came back meanwhile,
    // parked (no read outstanding: resume() issues the next).
    bool paused = false;
    bool parked = false;
    std::function<void(std::string_view)> on_data;
    std::function<void()> on_eof;
    // Only pipe readers get a buffer: a pidfd watch reads nothing (1,000 live jails have 3,000
    // watches; 16 KiB each was most of ljd's RSS).
    std::unique_ptr<char[]> buf;
    static constexpr std::size_t kBufSize = 4096;
  };
  explicit FdWatch(std::shared_ptr<State> s) : s_(std::move(s)) {}
  ~FdWatch() override { cancel(); }
  void cancel() override {
    if (s_->cancelled) return;
    s_->cancelled = true;
    boost::system::error_code ec;
    s_->sd.cancel(ec);
  }

 private:
  std::shared_ptr<State> s_;
};

// A pipe reader: an FdWatch that can pause (its State's flags) and read on.
class PipeWatch final : public ReadWatch {
 public:
  using Resume = void (*)(const std::shared_ptr<FdWatch::State>&);
  PipeWatch(std::shared_ptr<FdWatch::State> s, Resume read_on)
      : s_(s), watch_(std::move(s)), resume_(read_on) {}
  void cancel() override { watch_.cancel(); }
  void pause() override { s_->paused = true; }
  void resume() override {
    s_->paused = false;
    if (s_->parked && !s_->cancelled) {
      s_->parked = false;
      resume_(s_);
    }
  }

 private:
  std::shared_ptr<FdWatch::State> s_;
  FdWatch watch_;  // cancels on destruction
  Resume resume_;
};

class AsioLoop final : public Loop {
 public:
  AsioLoop(net::io_context& io, net::thread_pool& pool, net::thread_pool& long_pool)
      : io_(io), pool_(pool), long_pool_(long_pool) {}

  void post(std::function<void()> fn) override { net::post(io_, std::move(fn)); }
  void blocking(std::function<void()> work) override { net::post(pool_, std::move(work)); }
  void long_blocking(std::function<void()> work) override {
    net::post(long_pool_, std::move(work));
  }

  std::unique_ptr<Watch> at(std::chrono::steady_clock::time_point when,
                            std::function<void()> fn) override {
    auto s = std::make_shared<TimerWatch::State>(io_);
    s->timer.expires_at(when);
    s->timer.async_wait([s, fn = std::move(fn)](boost::system::error_code ec) {
      if (!ec && !s->cancelled) fn();
    });
    return std::make_unique<TimerWatch>(s);
  }

  std::unique_ptr<Watch> when_readable(int fd, std::function<void()> fn) override {
    auto s = std::make_shared<FdWatch::State>(io_, fd);
    s->sd.async_wait(net::posix::descriptor_base::wait_read,
                     [s, fn = std::move(fn)](boost::system::error_code ec) {
                       if (!ec && !s->cancelled) fn();
                     });
    return std::make_unique<FdWatch>(s);
  }

  std::unique_ptr<ReadWatch> read_until_eof(UniqueFd fd,
                                            std::function<void(std::string_view)> on_data,
                                            std::function<void()> on_eof) override {
    auto s = std::make_shared<FdWatch::State>(io_, fd.release());
    s->owns = true;
    s->buf = std::make_unique<char[]>(FdWatch::State::kBufSize);
    s->on_data = std::move(on_data);
    s->on_eof = std::move(on_eof);
    read_more(s);
    return std::make_unique<PipeWatch>(s, &AsioLoop::read_more);
  }

 private:
  static void read_more(const std::shared_ptr<FdWatch::State>& s) {
    s->sd.async_read_some(net::buffer(s->buf.get(), FdWatch::State::kBufSize),
                          [s](boost::system::error_code ec, std::size_t n) {
                            if (s->cancelled) return;
                            if (n > 0) s->on_data(std::string_view(s->buf.get(), n));
                            if (ec) {
                              s->on_eof();
                              return;
                            }
                            if (s->cancelled) return;
                            if (s->paused) {
                              s->parked = true;
                              return;
                            }
                            read_more(s);
                          });
  }

  net::io_context& io_;
  net::thread_pool& pool_;
  net::thread_pool& long_pool_;
};

// ---- HTTP ---------------------------------------------------------------------------------------

// The server end of one NDJSON stream (see StreamWriter). Loop thread only.
class ChunkWriter final : public StreamWriter {
 public:
  explicit ChunkWriter(net::any_io_executor ex) : wake(ex) {}
  bool write(std::string record) override {
    if (closed_ || ended_) return false;
    record.push_back('\n');
    backlog_ += record.size();
    queue_.push_back(std::move(record));
    wake.cancel();
    return true;
  }
  void end() override {
    ended_ = true;
    wake.cancel();
  }
  bool closed() const override { return closed_ || ended_; }
  std::size_t backlog() const override { return backlog_; }

  std::string take() {
    std::string out;
    out.reserve(backlog_);
    for (auto& r : queue_) out += r;
    queue_.clear();
    backlog_ = 0;
    return out;
  }
  bool pending() const { return !queue_.empty(); }
  bool ended() const { return ended_; }
  void close() {
    closed_ = true;
    wake.cancel();
  }

  net::steady_timer wake;

 private:
  std::deque<std::string> queue_;
  std::size_t backlog_ = 0;
  bool closed_ = false;
  bool ended_ = false;
};

}  // namespace

struct Runtime::Impl {
  explicit Impl(unsigned workers)
      : pool(workers), long_pool(workers), loop(io, pool, long_pool), signals(io) {}

  struct Session;

  net::io_context io{1};
  net::thread_pool pool;
  net::thread_pool long_pool;
  AsioLoop loop;
  net::signal_set signals;
  std::function<void(int)> on_signal;

  // Server state: loop thread only.
  ServerOptions opts;
  RequestHandler handler;
  std::unique_ptr<Local::acceptor> acceptor;
  std::set<Session*> sessions;
  bool stopping = false;
  std::uint64_t next_request = 0;
  std::uint64_t refused = 0;  // connections turned away over max_connections

  struct Session : std::enable_shared_from_this<Session> {
    Session(Impl& rt, Local::socket sock, Peer p) : impl(rt), stream(std::move(sock)), peer(p) {}
    Impl& impl;
    HttpStream stream;
    Peer peer;
    enum { reading, handling, streaming } phase = reading;
    std::shared_ptr<ChunkWriter> writer;
    std::shared_ptr<net::steady_timer> reply_wait;

    void shutdown() {
      if (phase == reading) {
        boost::system::error_code ec;
        stream.socket().close(ec);
      } else if (phase == streaming && writer) {
        writer->end();
      } else if (reply_wait) {
        reply_wait->cancel();  // the handler's reply, if it ever comes, is dropped
      }
    }

    net::awaitable<void> write_response(Response& resp, unsigned version, bool keep_alive,
                                        bool* ok) {
      http::response<http::string_body> res{static_cast<http::status>(resp.status), version};
      res.set(http::field::server, "ljd");
      for (auto& [k, v] : resp.headers) res.set(k, v);
      if (!resp.body.empty()) res.set(http::field::content_type, "application/json");
      res.body() = std::move(resp.body);
      res.keep_alive(keep_alive);
      res.prepare_payload();
      stream.expires_after(impl.opts.idle_timeout);
      auto [ec, n] = co_await http::async_write(stream, res, kTuple);
      *ok = !ec;
    }

    net::awaitable<void> write_stream(Response& resp, unsigned version, bool keep_alive, bool* ok) {
      http::response<http::empty_body> res{static_cast<http::status>(resp.status), version};
      res.set(http::field::server, "ljd");
      res.set(http::field::content_type, "application/x-ndjson");
      for (auto& [k, v] : resp.headers) res.set(k, v);
      res.keep_alive(keep_alive);
      res.chunked(true);
      http::response_serializer<http::empty_body> sr{res};
      stream.expires_after(impl.opts.idle_timeout);
      auto [ec, n] = co_await http::async_write_header(stream, sr, kTuple);
      if (ec) {
        *ok = false;
        co_return;
      }
      writer = std::make_shared<ChunkWriter>(stream.get_executor());
      phase = streaming;
      resp.stream(writer);
      *ok = true;
      // A follower that went away is noticed now, not at the next heartbeat's failed write: the
      // socket is watched for EOF or an error while the stream lasts (a client sends nothing
      // on a stream; bytes it does send end the watch, not the stream).
      auto peer_gone = std::make_shared<bool>(false);
      int fd = stream.socket().native_handle();
      stream.socket().async_wait(
          net::socket_base::wait_read, [peer_gone, w = writer, fd](boost::system::error_code wait_ec) {
            if (wait_ec == net::error::operation_aborted) return;
            char c;
            ssize_t got = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (wait_ec || got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
              *peer_gone = true;
              w->wake.cancel();
            }
          });
      for (;;) {
        if (*peer_gone) {
          *ok = false;
          break;
        }
        if (writer->pending()) {
          std::string chunk = writer->take();
          stream.expires_after(impl.opts.idle_timeout);
          auto [wec, wn] =
              co_await net::async_write(stream, http::make_chunk(net::buffer(chunk)), kTuple);
          if (wec) {
            *ok = false;
            break;
          }
          continue;
        }
        if (writer->ended()) {
          stream.expires_after(impl.opts.idle_timeout);
          auto [wec, wn] = co_await net::async_write(stream, http::make_chunk_last(), kTuple);
          *ok = !wec;
          break;
        }
        writer->wake.expires_after(impl.opts.heartbeat);
        auto [tec] = co_await writer->wake.async_wait(kTuple);
        if (!tec && !writer->pending() && !writer->ended()) {
          writer->write(R"({"type":"heartbeat"})");
        }
      }
      if (!*peer_gone) {
        boost::system::error_code cec;
        stream.socket().cancel(cec);  // the watch above, before the next request's read
      }
      writer->close();
      writer.reset();
    }

    net::awaitable<void> run() {
      auto self = shared_from_this();
      beast::flat_buffer buf;
      for (;;) {
        phase = reading;
        if (impl.stopping) break;
        // One deadline for the whole request: a client that trickles bytes cannot hold the
        // connection longer than one that sends nothing.
        RequestReader reader(HttpLimits{impl.opts.max_header_bytes, impl.opts.max_body_bytes});
        stream.expires_after(impl.opts.idle_timeout);
        bool gone = false;
        for (;;) {
          if (buf.size() > 0) {
            auto data = buf.data();
            buf.consume(
                reader.feed(std::string_view(static_cast<const char*>(data.data()), data.size())));
          }
          if (reader.state() != RequestReader::State::more) break;
          if (reader.take_continue()) {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            auto [wec, wn] = co_await net::async_write(
                stream, net::buffer(kContinue.data(), kContinue.size()), kTuple);
            if (wec) {
              gone = true;
              break;
            }
          }
          auto [ec, n] = co_await stream.async_read_some(buf.prepare(kReadChunk), kTuple);
          buf.commit(n);
          if (ec == net::error::eof) {
            reader.eof();
          } else if (ec) {
            gone = true;  // reset, or the idle deadline passed: nobody to answer
            break;
          }
        }
        if (gone) break;
        if (reader.state() == RequestReader::State::failed) {
          if (reader.error()) {
            Response r = *reader.error();
            bool ok = false;
            co_await write_response(r, 11, false, &ok);
          }
          break;
        }
        Request req;
        req.peer = peer;
        req.request_id = "r-" + std::to_string(++impl.next_request);
        bool keep_alive = reader.keep_alive();
        unsigned version = reader.version();
        Response resp;
        if (auto bad = reader.take(&req)) {
          resp = std::move(*bad);
        } else if (!peer.allowed) {
          resp = error_response(Error(
              Errc::permission_denied, "api",
              "uid " + std::to_string(peer.uid) + " is neither root nor in the socket group"));
        } else {
          phase = handling;
          stream.expires_never();
          auto slot = std::make_shared<std::optional<Response>>();
          reply_wait = std::make_shared<net::steady_timer>(stream.get_executor());
          reply_wait->expires_at(net::steady_timer::time_point::max());
          std::weak_ptr<net::steady_timer> waker = reply_wait;
          impl.handler(req, [slot, waker](Response r) {
            *slot = std::move(r);
            if (auto w = waker.lock()) w->cancel();
          });
          if (!*slot) co_await reply_wait->async_wait(kTuple);
          reply_wait.reset();
          if (!*slot) {
            resp = error_response(Error(Errc::busy, "api", "ljd is shutting down"));
            keep_alive = false;
          } else {
            resp = std::move(**slot);
          }
        }
        if (impl.stopping) keep_alive = false;
        if (resp.upgrade && req.upgrade_tcp) {
          // The attach hijack: 101, then the socket is the handler's (a dup: closing ours does
          // not shut the connection down), with what the client sent after the request.
          static constexpr std::string_view k101 =
              "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
          stream.expires_after(impl.opts.idle_timeout);
          auto [wec, wn] =
              co_await net::async_write(stream, net::buffer(k101.data(), k101.size()), kTuple);
          if (wec) break;
          const int fd = ::fcntl(stream.socket().native_handle(), F_DUPFD_CLOEXEC, 0);
          if (fd < 0) break;
          ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
          std::string early(static_cast<const char*>(buf.data().data()), buf.size());
          boost::system::error_code cec;
          stream.socket().close(cec);
          impl.sessions.erase(this);
          resp.upgrade(fd, std::move(early));
          co_return;
        }
        bool ok = false;
        if (resp.stream)
          co_await write_stream(resp, version, keep_alive, &ok);
        else
          co_await write_response(resp, version, keep_alive, &ok);
        if (!ok || !keep_alive) break;
      }
      boost::system::error_code ec;
      stream.socket().shutdown(Local::socket::shutdown_both, ec);
      stream.socket().close(ec);
      impl.sessions.erase(this);
    }
  };

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor->async_accept(kTuple);
      if (!acceptor || !acceptor->is_open() || ec == net::error::operation_aborted) co_return;
      if (ec) {
        // EMFILE/ENFILE: back off instead of spinning; the connection waits in the backlog.
        lj::log("api")->warn("accept: {}", ec.message());
        net::steady_timer t(io, std::chrono::milliseconds(50));
        co_await t.async_wait(kTuple);
        continue;
      }
      auto peer = peer_credentials(sock.native_handle(), opts.group);
      if (!peer) {
        lj::log("api")->warn("dropping connection: {}", peer.error().what());
        continue;
      }
      if (sessions.size() >= opts.max_connections) {
        refuse(std::move(sock));
        continue;
      }
      auto s = std::make_shared<Session>(*this, std::move(sock), *peer);
      sessions.insert(s.get());
      net::co_spawn(io, s->run(), net::detached);
    }
  }

  // Over max_connections: a short answer without reading the request, then close. The write is
  // non-blocking and best effort (a client that does not read it just sees the close).
  void refuse(Local::socket sock) {
    static const std::string kBusy = [] {
      Response r =
          error_response(Error(Errc::busy, "api", "too many connections (max_connections)"));
      std::string head = "HTTP/1.1 503 Service Unavailable\r\nServer: ljd\r\n";
      for (const auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
      return head + "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
             std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
    }();
    ++refused;
    (void)!::send(sock.native_handle(), kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    boost::system::error_code err;
    sock.shutdown(Local::socket::shutdown_both, err);
    sock.close(err);
  }

  void arm_signals() {
    signals.async_wait([this](boost::system::error_code ec, int signo) {
      if (ec) return;
      if (on_signal) on_signal(signo);
      arm_signals();
    });
  }
};

Runtime::Runtime(unsigned workers) : impl_(std::make_unique<Impl>(workers)) {}

Runtime::~Runtime() {
  join_workers();
}

Loop& Runtime::loop() {
  return impl_->loop;
}

std::size_t Runtime::connections() const {
  return impl_->sessions.size();
}

Status Runtime::listen(const ServerOptions& opts, RequestHandler handler) {
  const std::string path = opts.socket.string();
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return fail(Errc::invalid_argument, "api", "socket path too long: " + path);
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail(Errc::exists, "api", path + " exists and is not a socket");
    }
    // A socket file: another ljd if something answers, else left by a dead one.
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
      return fail(Errc::exists, "api", "another ljd is answering on " + path);
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return fail_errno("api", "unlink stale socket " + path);
    }
  }
  std::error_code fec;
  std::filesystem::create_directories(opts.socket.parent_path(), fec);
  try {
    auto acc = std::make_unique<Local::acceptor>(impl_->io);
    acc->open(Local());
    // Created 0600 and only then opened up: no window in which others may connect.
    mode_t old = ::umask(0177);
    boost::system::error_code ec;
    acc->bind(Local::endpoint(path), ec);
    ::umask(old);
    if (ec)
      return fail(Error(Errc::system, "api", "bind " + path + ": " + ec.message(), ec.value()));
    if (opts.group && ::chown(path.c_str(), static_cast<uid_t>(-1), *opts.group) != 0) {
      return fail_errno("api", "chown " + path);
    }
    if (::chmod(path.c_str(), opts.mode) != 0) return fail_errno("api", "chmod " + path);
    acc->listen(net::socket_base::max_listen_connections);
    impl_->acceptor = std::move(acc);
  } catch (const boost::system::system_error& e) {
    return fail(
        Error(Errc::system, "api", "listen on " + path + ": " + e.what(), e.code().value()));
  }
  impl_->opts = opts;
  impl_->handler = std::move(handler);
  net::co_spawn(impl_->io, impl_->accept_loop(), net::detached);
  return {};
}

void Runtime::stop_accepting() {
  Impl& i = *impl_;
  i.stopping = true;
  if (i.acceptor) {
    boost::system::error_code ec;
    i.acceptor->close(ec);
    ::unlink(i.opts.socket.c_str());
  }
  auto sessions = i.sessions;  // shutdown() may end a session
  for (auto* s : sessions) s->shutdown();
}

void Runtime::on_signal(std::function<void(int)> fn) {
  impl_->on_signal = std::move(fn);
  impl_->signals.add(SIGTERM);
  impl_->signals.add(SIGINT);
  impl_->signals.add(SIGHUP);
  impl_->arm_signals();
}

void Runtime::run() {
  auto guard = net::make_work_guard(impl_->io);
  impl_->io.run();
}

void Runtime::stop() {
  impl_->io.stop();
}

void Runtime::join_workers() {
  impl_->pool.join();
}

}  // namespace lj::daemon
