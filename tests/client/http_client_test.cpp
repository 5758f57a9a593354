// The HTTP client against byte-exact framing: the chunked decoder and the line splitter fed in
// every possible split, then whole exchanges with a scripted server on a real UNIX socket.
#include "client/http_client.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include "fake_ljd.hpp"

namespace lj::client {
namespace {

using test::FakeLjd;
using test::SeenRequest;

const std::string kChunked =
    "5;ext=1\r\nhello\r\n"
    "1B\r\n, world, in chunks\n{\"a\":1}\n\r\n"
    "0\r\nTrailer: x\r\n\r\n";
const std::string kPayload = "hello, world, in chunks\n{\"a\":1}\n";

TEST(ChunkedDecoder, DecodesWholeInput) {
  ChunkedDecoder d;
  std::string out;
  auto used = d.feed(kChunked + "NEXT", out);
  ASSERT_TRUE(used) << used.error().what();
  EXPECT_EQ(*used, kChunked.size());  // stops after the trailer section
  EXPECT_TRUE(d.done());
  EXPECT_EQ(out, kPayload);
}

TEST(ChunkedDecoder, DecodesEverySplitPoint) {
  for (std::size_t a = 0; a <= kChunked.size(); ++a) {
    for (std::size_t b = a; b <= kChunked.size(); b += 7) {
      ChunkedDecoder d;
      std::string out;
      for (auto piece : {kChunked.substr(0, a), kChunked.substr(a, b - a), kChunked.substr(b)}) {
        auto used = d.feed(piece, out);
        ASSERT_TRUE(used);
        ASSERT_EQ(*used, piece.size());
      }
      EXPECT_TRUE(d.done()) << a << "," << b;
      EXPECT_EQ(out, kPayload) << a << "," << b;
    }
  }
}

TEST(ChunkedDecoder, DecodesByteByByte) {
  ChunkedDecoder d;
  std::string out;
  for (char c : kChunked) ASSERT_TRUE(d.feed(std::string_view(&c, 1), out));
  EXPECT_TRUE(d.done());
  EXPECT_EQ(out, kPayload);
}

TEST(ChunkedDecoder, RejectsMalformedFraming) {
  for (std::string bad : {"zz\r\n", "\r\n", "3\r\nabcd\r\n", "1234567890123456\r\n"}) {
    ChunkedDecoder d;
    std::string out;
    auto r = d.feed(bad, out);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
  }
}

TEST(LineSplitter, SplitsLinesAcrossFeeds) {
  LineSplitter s;
  std::vector<std::string> lines;
  auto on = [&](std::string_view l) {
    lines.emplace_back(l);
    return true;
  };
  EXPECT_TRUE(s.feed("a\nb", on));
  EXPECT_TRUE(s.feed("c\r\n\nd", on));
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "a",
                       "bc",
                       "",
                   }));
  EXPECT_EQ(s.rest(), "d");
}

TEST(LineSplitter, StopsWhenTheCallbackSaysSo) {
  LineSplitter s;
  int n = 0;
  EXPECT_FALSE(s.feed("1\n2\n3\n", [&](std::string_view) { return ++n < 2; }));
  EXPECT_EQ(n, 2);
}

TEST(UrlEncode, EncodesReservedCharacters) {
  EXPECT_EQ(url_encode("lang/ruby@~>2.1 x"), "lang%2Fruby%40~%3E2.1%20x");
  EXPECT_EQ(url_encode("a-b_c.d~e"), "a-b_c.d~e");
}

TEST(HttpClient, RequestWithContentLengthAndKeepAlive) {
  FakeLjd srv([](const SeenRequest& r, bool&) {
    return FakeLjd::json_response(200, R"({"path":")" + r.target + "\"}");
  });
  HttpClient c(srv.socket());
  auto a = c.request("GET", "/v1/info");
  ASSERT_TRUE(a) << a.error().what();
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->body, R"({"path":"/v1/info"})");
  ASSERT_NE(a->header("content-type"), nullptr);
  EXPECT_EQ(*a->header("content-type"), "application/json");
  auto b = c.request("POST", "/v1/jails", R"({"x":1})");
  ASSERT_TRUE(b);
  EXPECT_EQ(srv.connections(), 1);  // the connection was reused
  auto seen = srv.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].method, "POST");
  EXPECT_EQ(seen[1].body, R"({"x":1})");
}

TEST(HttpClient, RetriesOnceWhenAnIdleConnectionWasClosed) {
  FakeLjd srv([](const SeenRequest&, bool& close) {
    close = true;  // the server drops every connection after one answer
    return FakeLjd::json_response(200, "{}");
  });
  HttpClient c(srv.socket());
  ASSERT_TRUE(c.request("GET", "/v1/_ping"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto r = c.request("GET", "/v1/_ping");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(srv.connections(), 2);
}

TEST(HttpClient, StreamsNdjsonLinesSplitAcrossChunks) {
  FakeLjd srv([](const SeenRequest&, bool&) {
    return FakeLjd::chunked_response(
        {"{\"seq\":1,", "\"data\":\"a\"}\n{\"se", "q\":2}\n", "{\"type\":\"end\"}"});
  });
  HttpClient c(srv.socket());
  std::vector<std::string> lines;
  auto r = c.stream("GET", "/v1/jails/j/logs?follow=true", {}, [&](std::string_view l) {
    lines.emplace_back(l);
    return true;
  });
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(lines, (std::vector<std::string>{R"({"seq":1,"data":"a"})", R"({"seq":2})",
                                             R"({"type":"end"})"}));
  // The stream ended cleanly: the same connection serves the next request.
  ASSERT_TRUE(c.request("GET", "/v1/_ping"));
  EXPECT_EQ(srv.connections(), 1);
}

TEST(HttpClient, AnErrorAnswerToAStreamIsReturnedWhole) {
  FakeLjd srv([](const SeenRequest&, bool&) {
    return FakeLjd::json_response(404, R"({"code":"jail.not_found","message":"no jail x"})");
  });
  HttpClient c(srv.socket());
  int calls = 0;
  auto r = c.stream("GET", "/v1/jails/x/logs", {}, [&](std::string_view) { return ++calls > 0; });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(calls, 0);
  EXPECT_NE(r->body.find("jail.not_found"), std::string::npos);
}

TEST(HttpClient, ConnectionClosedMidStreamIsAnError) {
  FakeLjd srv([](const SeenRequest&, bool& close) {
    close = true;
    return std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"a\":1\r\n");
  });
  HttpClient c(srv.socket());
  auto r = c.stream("GET", "/v1/events", {}, [](std::string_view) { return true; });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("middle of a stream"), std::string::npos) << r.error().what();
}

TEST(HttpClient, BodyUntilCloseWithoutFraming) {
  FakeLjd srv([](const SeenRequest&, bool& close) {
    close = true;
    return std::string("HTTP/1.0 200 OK\r\n\r\nall of it");
  });
  HttpClient c(srv.socket());
  auto r = c.request("GET", "/");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->body, "all of it");
}

// ljctl's attach and exec (client/ljctl_attach.cpp): a 101 hands the socket over with the bytes
// that came in the same read as the head; a refusal is read by its Content-Length while the
// server keeps the connection open (reading it to EOF waited for ljd's idle timeout).
TEST(HttpClient, AnUpgradeHandsOverTheSocketWithTheBytesAfterTheHead) {
  const std::string frame("\x01\0\0\0\0\0\0\x02hi", 10);
  FakeLjd srv([&](const SeenRequest&, bool&) {
    return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + frame;
  });
  HttpClient c(srv.socket());
  auto up = c.upgrade("POST", "/v1/exec/x/start", "tcp");
  ASSERT_TRUE(up) << up.error().what();
  EXPECT_EQ(up->response.status, 101);
  ASSERT_TRUE(up->fd);
  EXPECT_FALSE(c.connected());
  std::string got = up->early;
  char buf[64];
  for (ssize_t n; got.size() < frame.size() && (n = ::read(up->fd.get(), buf, sizeof buf)) > 0;)
    got.append(buf, static_cast<std::size_t>(n));
  EXPECT_EQ(got, frame);
  auto seen = srv.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/v1/exec/x/start");
}

TEST(HttpClient, ARefusedUpgradeIsReadByItsLengthOnAConnectionKeptOpen) {
  FakeLjd srv([](const SeenRequest&, bool&) {
    return FakeLjd::json_response(409, R"({"code":"jail.conflict","message":"not running"})");
  });
  HttpClient c(srv.socket());
  auto up = c.upgrade("POST", "/v1/jails/j/attach", "tcp");
  ASSERT_TRUE(up) << up.error().what();
  EXPECT_EQ(up->response.status, 409);
  EXPECT_EQ(up->response.body, R"({"code":"jail.conflict","message":"not running"})");
  EXPECT_FALSE(up->fd);
  EXPECT_TRUE(up->early.empty());
}

TEST(HttpClient, MissingSocketFailsWithEnoent) {
  HttpClient c("/nonexistent/ljd.sock");
  auto r = c.request("GET", "/v1/_ping");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno(), ENOENT);
}

TEST(HttpClient, MalformedStatusLineIsRejected) {
  FakeLjd srv([](const SeenRequest&, bool& close) {
    close = true;
    return std::string("SSH-2.0-OpenSSH\r\n\r\n");
  });
  HttpClient c(srv.socket());
  auto r = c.request("GET", "/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
}

TEST(HttpClient, IdleTimeoutAndInterruptFlag) {
  FakeLjd srv([](const SeenRequest&, bool&) {
    // Headers, then nothing: a stream with no records and no heartbeats.
    return std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  });
  HttpClient c(srv.socket());
  c.set_idle_timeout(std::chrono::milliseconds(150));
  auto r = c.stream("GET", "/v1/events?follow=true", {}, [](std::string_view) { return true; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::timed_out);

  HttpClient d(srv.socket());
  static volatile std::sig_atomic_t flag = 0;
  d.set_interrupt_flag(&flag);
  std::thread t([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    flag = 1;
  });
  auto s = d.stream("GET", "/v1/events?follow=true", {}, [](std::string_view) { return true; });
  t.join();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().sys_errno(), EINTR);
}

}  // namespace
}  // namespace lj::client
