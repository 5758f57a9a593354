// Interactive jails through the real ljd and the real Linux backend, on a busybox world: a
// terminal (spec tty), a user resolved in the jail (spec user). Privileged: skipped when not root.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>

#include "common/fd.hpp"

#include <gtest/gtest.h>

#include "shared_ljd.hpp"
#include "upgraded.hpp"

namespace lj::testing {
namespace {

using nlohmann::json;

class LjdInteractiveTest : public SharedLjdTest<LjdInteractiveTest, true> {
 public:
  static constexpr const char* kConfig = "heartbeat = 1s\nworkers = 2\n";

 protected:
  // Creates and starts `body`; its id, or "" (a test failure recorded).
  std::string start(HttpClient& c, const json& body) {
    auto r = c.post("/v1/jails?start=true", body);
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(r->status, 201) << r->body;
    return r->status == 201 ? r->json()["id"].get<std::string>() : "";
  }
  // Starts `body`, waits for its end; the exit and what its log's stdout records hold.
  std::pair<json, std::string> run_to_end(HttpClient& c, json body) {
    auto r = c.post("/v1/jails?start=true", body);
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 201) << r->body;
    std::string id = r->json()["id"];
    auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=30");
    EXPECT_TRUE(w && w->status == 200);
    auto logs = c.get("/v1/jails/" + id + "/logs");
    EXPECT_TRUE(logs);
    std::string out;
    std::istringstream in(logs ? logs->body : "");
    for (std::string line; std::getline(in, line);) {
      json rec = json::parse(line);
      if (rec.value("stream", "") == "stdout") out += rec["data"].get<std::string>();
    }
    return {w ? w->json()["exit"] : json(), out};
  }
};

TEST_F(LjdInteractiveTest, StdinThroughAnUpgradedAttachKeepsStdoutAndStderrApart) {
  auto c = client();
  const std::string id = start(c, json{{"world", "bb"}, {"command", {"sh", "-c", "cat; echo done >&2"}}, {"stdin", true}});
  ASSERT_FALSE(id.empty());
  UniqueFd a = upgraded(ljd_->socket(), "/v1/jails/" + id + "/attach");
  ASSERT_TRUE(a);
  ASSERT_EQ(::write(a.get(), "hi\n", 3), 3);
  ::shutdown(a.get(), SHUT_WR);  // the end of input closes the jail's stdin
  auto [out, err] = demux(read_all(a.get()));
  EXPECT_EQ(out, "hi\n");
  EXPECT_EQ(err, "done\n");
  auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=30");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["exit"]["code"], 0);
}

TEST_F(LjdInteractiveTest, AHundredMebibytesOfStdinArriveWhole) {
  auto c = client();
  const std::string id = start(c, json{{"world", "bb"}, {"command", {"sh", "-c", "busybox sha256sum"}}, {"stdin", true}});
  ASSERT_FALSE(id.empty());
  UniqueFd a = upgraded(ljd_->socket(), "/v1/jails/" + id + "/attach");
  ASSERT_TRUE(a);
  BigFile big(1);  // one MiB of the pattern, sent 100 times: its digest from the host's tool
  BigFile whole(100);
  ASSERT_EQ(whole.sha256().size(), 64u);
  const long rss_before = vm_kib(ljd_->pid(), "VmRSS");
  const long hwm_before = vm_kib(ljd_->pid(), "VmHWM");
  const auto t0 = std::chrono::steady_clock::now();
  std::thread writer = feed(a.get(), big.block(), 100);
  auto [out, err] = demux(read_all(a.get()));
  writer.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const long rss_after = vm_kib(ljd_->pid(), "VmRSS");
  const long hwm_after = vm_kib(ljd_->pid(), "VmHWM");
  std::printf("stdin: 100 MiB in %.3f s = %.0f MiB/s; ljd RSS %ld -> %ld KiB, VmHWM %ld -> %ld\n",
              s, 100 / s, rss_before, rss_after, hwm_before, hwm_after);
  // ljd never holds more than a 64 KiB read of the stream at once (attach.hpp): its memory must
  // not follow the 100 MiB. 16 MiB of slack for the allocator and the other tests' jails.
  EXPECT_LT(rss_after - rss_before, 16 * 1024) << "ljd buffered the stream";
  EXPECT_LT(hwm_after - hwm_before, 16 * 1024) << "ljd buffered the stream";
  EXPECT_EQ(out.substr(0, 64), whole.sha256());
}

TEST_F(LjdInteractiveTest, AShellOnATerminalThroughAnAttachAndAResize) {
  auto c = client();
  const std::string id =
      start(c, json{{"world", "bb"}, {"command", {"sh", "-i"}}, {"stdin", true}, {"tty", true}});
  ASSERT_FALSE(id.empty());
  auto rs = c.request("POST", "/v1/jails/" + id + "/resize?h=40&w=100");
  ASSERT_TRUE(rs);
  EXPECT_EQ(rs->status, 200) << rs->body;
  UniqueFd a = upgraded(ljd_->socket(), "/v1/jails/" + id + "/attach");
  ASSERT_TRUE(a);
  std::string cmd = "busybox stty size; tty; exit 7\n";
  ASSERT_EQ(::write(a.get(), cmd.data(), cmd.size()), static_cast<ssize_t>(cmd.size()));
  std::string raw;
  char buf[4096];
  for (ssize_t n; (n = ::read(a.get(), buf, sizeof buf)) > 0;) raw.append(buf, static_cast<std::size_t>(n));
  EXPECT_NE(raw.find("40 100\r\n"), std::string::npos) << raw;  // raw: no stream headers
  EXPECT_NE(raw.find("/dev/pts/0\r\n"), std::string::npos) << raw;
  auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=30");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["exit"]["code"], 7);
  auto bad = c.request("POST", "/v1/jails/" + id + "/resize?h=40&w=100");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 409);
}

// What `sh -c script` prints, and its exit status.
std::pair<std::string, int> shell(const std::string& script) {
  std::string out;
  FILE* p = ::popen(script.c_str(), "r");
  if (!p) return {"", -1};
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int st = ::pclose(p);
  return {out, WIFEXITED(st) ? WEXITSTATUS(st) : -1};
}

TEST_F(LjdInteractiveTest, LjctlRunDashIPipesStdinAndExitsWithTheJailsStatus) {
  const std::string ljctl = std::string(LJCTL_PATH) + " --socket " + ljd_->socket();
  auto [out, code] = shell("echo hi | " + ljctl + " run -i bb -- sh -c 'cat; echo err >&2; exit 3' 2>/dev/null");
  EXPECT_EQ(out, "hi\n");
  EXPECT_EQ(code, 3);
  std::tie(out, code) = shell("echo x | " + ljctl + " run -i -u 65534:65534 bb -- id -u");
  EXPECT_EQ(out, "65534\n");
  EXPECT_EQ(code, 0);
}

// An attach refused (the jail ended before it) is answered at once: ljctl read the refusal's body
// to EOF on a connection ljd keeps open, and waited for its 60 s idle timeout (`ljctl run -i` of a
// quick command, 1 run in 40, went this way).
TEST_F(LjdInteractiveTest, AnAttachToAnEndedJailIsAnsweredAtOnce) {
  auto c = ljd_->client();
  const std::string id = start(c, json{{"world", "bb"}, {"command", {"true"}}});
  auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=30");
  ASSERT_TRUE(w && w->status == 200);
  const std::string ljctl = std::string(LJCTL_PATH) + " --socket " + ljd_->socket();
  const auto t0 = std::chrono::steady_clock::now();
  auto [out, code] = shell("timeout 30 " + ljctl + " attach " + id + " </dev/null 2>&1");
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(code, 124) << "ljctl attach waited for ljd's idle timeout";
  EXPECT_LT(took, std::chrono::seconds(10)) << out;
}

// 100 MiB through ljctl's stdin, into `run -i` (a jail's attach) and `exec -i` (an exec's start):
// whole (sha256 inside the jail against the host's), and ljd's peak memory does not follow them.
TEST_F(LjdInteractiveTest, AHundredMebibytesThroughLjctlRunAndExecArriveWhole) {
  BigFile big(100);
  ASSERT_EQ(big.sha256().size(), 64u);
  const std::string ljctl = std::string(LJCTL_PATH) + " --socket " + ljd_->socket();
  auto c = client();
  const std::string jail = start(c, json{{"world", "bb"}, {"command", {"sleep", "100"}}});
  ASSERT_FALSE(jail.empty());
  for (const std::string& how : {std::string("run -i bb --"), "exec -i " + jail}) {
    SCOPED_TRACE(how);
    const long hwm_before = vm_kib(ljd_->pid(), "VmHWM");
    const auto t0 = std::chrono::steady_clock::now();
    auto [out, code] = shell(ljctl + " " + how + " busybox sha256sum < " + big.path());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long hwm_after = vm_kib(ljd_->pid(), "VmHWM");
    std::printf("%s: 100 MiB in %.3f s = %.0f MiB/s; ljd VmHWM %ld -> %ld KiB\n", how.c_str(), s,
                100 / s, hwm_before, hwm_after);
    EXPECT_EQ(code, 0);
    EXPECT_EQ(out.substr(0, 64), big.sha256());
    // ljd holds one 64 KiB read of a stream at a time: its peak must not grow by the stream.
    EXPECT_LT(hwm_after - hwm_before, 16 * 1024) << "ljd buffered the stream";
  }
  (void)c.request("POST", "/v1/jails/" + jail + "/kill");
}

// What a shell command writes on stdout and stderr (through files: the bytes as they are), and
// its exit status.
struct Captured {
  std::string out, err;
  int code = -1;
};
Captured capture(const std::string& script) {
  char dir[] = "/tmp/lj-capture-XXXXXX";
  if (!::mkdtemp(dir)) return {};
  const std::string out = std::string(dir) + "/out", err = std::string(dir) + "/err";
  Captured c;
  c.code = shell("(" + script + ") >" + out + " 2>" + err).second;
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream all;
    all << in.rdbuf();
    return all.str();
  };
  c.out = slurp(out);
  c.err = slurp(err);
  std::filesystem::remove_all(dir);
  return c;
}

// Every byte value (NUL and bytes that are not UTF-8 included) a jail writes arrives as written,
// on the stream it was written to, through each way out: `ljctl run` (the log records),
// `ljctl run -i` (an upgraded attach with the log replayed), `ljctl attach`, `ljctl exec`
// (an exec's upgraded start), the log through the API, and an exec's NDJSON start. Before, the
// JSON records replaced every byte that is not UTF-8 with U+FFFD.
TEST_F(LjdInteractiveTest, EveryByteValueArrivesAsWrittenThroughRunAttachExecAndTheLog) {
  const std::string bytes = all_bytes(), reversed = all_bytes(true);
  const std::string script = printf_of(bytes) + "; " + printf_of(reversed) + " >&2";
  const std::string ljctl = std::string(LJCTL_PATH) + " --socket " + ljd_->socket();
  auto quoted = [](const std::string& s) { return "\"" + s + "\""; };  // the script has no "
  auto expect_exact = [&](const std::string& how, const std::string& out, const std::string& err) {
    EXPECT_TRUE(out == bytes) << how << ": stdout has " << out.size() << " bytes, not the 256";
    EXPECT_TRUE(err == reversed) << how << ": stderr has " << err.size() << " bytes, not the 256";
  };
  {
    Captured r = capture(ljctl + " run bb -- sh -c " + quoted(script));
    EXPECT_EQ(r.code, 0);
    expect_exact("run", r.out, r.err);
  }
  {
    Captured r = capture(ljctl + " run -i bb -- sh -c " + quoted(script) + " </dev/null");
    EXPECT_EQ(r.code, 0);
    expect_exact("run -i", r.out, r.err);
  }
  auto c = client();
  {
    // Attached before it writes: it waits for a line of input first.
    const std::string id = start(c, json{{"world", "bb"},
                                         {"command", {"sh", "-c", "read x; " + script}},
                                         {"stdin", true}});
    ASSERT_FALSE(id.empty());
    Captured r = capture("echo go | " + ljctl + " attach " + id);
    expect_exact("attach", r.out, r.err);
    auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=30");
    ASSERT_TRUE(w && w->status == 200);
    auto logs = c.get("/v1/jails/" + id + "/logs");
    ASSERT_TRUE(logs && logs->status == 200);
    auto [out, err] = record_output(logs->body);
    expect_exact("the log", out, err);
  }
  const std::string jail = start(c, json{{"world", "bb"}, {"command", {"sleep", "100"}}});
  ASSERT_FALSE(jail.empty());
  {
    Captured r = capture(ljctl + " exec " + jail + " sh -c " + quoted(script));
    EXPECT_EQ(r.code, 0);
    expect_exact("exec", r.out, r.err);
  }
  {
    auto x = c.post("/v1/jails/" + jail + "/exec", json{{"cmd", {"sh", "-c", script}}});
    ASSERT_TRUE(x && x->status == 201);
    auto started = c.request("POST", "/v1/exec/" + x->json()["id"].get<std::string>() + "/start");
    ASSERT_TRUE(started && started->status == 200);
    auto [out, err] = record_output(started->body);
    expect_exact("exec start (NDJSON)", out, err);
  }
  (void)c.request("POST", "/v1/jails/" + jail + "/kill");
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// A client attached to a jail that writes 128 MiB, and an exec's client likewise, not reading for
// a while: ljd holds at most its bound per client (stream_backlog_bytes, 4 MiB, plus a read in
// flight) and the jail waits in its pipe, so ljd's memory stays flat; once the client reads,
// every byte arrives. Before, an exec's output piled up in ljd (its RSS grew by the 128 MiB) and
// a jail's attach was cut off past 4 MiB behind (the client's output just ended).
TEST_F(LjdInteractiveTest, ASlowReaderOf128MiBHoldsTheJailNotLjdsMemory) {
  constexpr std::size_t kBytes = std::size_t{128} << 20;
  const std::string writer = "head -c " + std::to_string(kBytes) + " /dev/zero";
  auto c = client();
  auto check = [&](const std::string& how, int fd) {
    SCOPED_TRACE(how);
    const long rss_before = vm_kib(ljd_->pid(), "VmRSS");
    std::this_thread::sleep_for(std::chrono::seconds(3));  // the jail could write it all by now
    const long rss_stalled = vm_kib(ljd_->pid(), "VmRSS");
    Tally t = tally(fd, '\0');
    const long rss_after = vm_kib(ljd_->pid(), "VmRSS");
    std::printf("%s: ljd VmRSS %ld KiB, %ld after 3 s of a client not reading, %ld at the end; "
                "%zu bytes arrived\n",
                how.c_str(), rss_before, rss_stalled, rss_after, t.out);
    // Under ASan ljd's RSS says nothing about what it holds: freed buffers stay in its
    // quarantine (256 MiB by default) and every allocation carries redzones. The bytes are
    // still checked there; the memory bound is the uninstrumented suite's.
    if (!kSanitized) {
      EXPECT_LT(rss_stalled - rss_before, 24 * 1024) << "ljd buffered the output";
      EXPECT_LT(rss_after - rss_before, 24 * 1024) << "ljd buffered the output";
    }
    EXPECT_EQ(t.out, kBytes);
    EXPECT_TRUE(t.only_fill);
  };
  {
    const std::string id = start(c, json{{"world", "bb"},
                                         {"command", {"sh", "-c", "read x; " + writer}},
                                         {"stdin", true}});
    ASSERT_FALSE(id.empty());
    UniqueFd a = upgraded(ljd_->socket(), "/v1/jails/" + id + "/attach");
    ASSERT_TRUE(a);
    ASSERT_EQ(::write(a.get(), "go\n", 3), 3);
    check("attach", a.get());
    auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=30");
    ASSERT_TRUE(w && w->status == 200);
    EXPECT_EQ(w->json()["exit"]["code"], 0);
  }
  {
    const std::string jail = start(c, json{{"world", "bb"}, {"command", {"sleep", "100"}}});
    ASSERT_FALSE(jail.empty());
    auto x = c.post("/v1/jails/" + jail + "/exec", json{{"cmd", {"sh", "-c", writer}}});
    ASSERT_TRUE(x && x->status == 201);
    const std::string xid = x->json()["id"];
    UniqueFd a = upgraded(ljd_->socket(), "/v1/exec/" + xid + "/start");
    ASSERT_TRUE(a);
    check("exec", a.get());
    auto w = c.get("/v1/exec/" + xid + "/wait?timeout_s=30");
    ASSERT_TRUE(w && w->status == 200);
    EXPECT_EQ(w->json()["exit"]["code"], 0);
    (void)c.request("POST", "/v1/jails/" + jail + "/kill");
  }
}

TEST_F(LjdInteractiveTest, ATtyJailRunsOnAPtyOfItsOwnAsItsUser) {
  auto c = client();
  auto [exit, out] = run_to_end(c, {{"world", "bb"},
                                    {"command", {"sh", "-c", "tty; busybox stty size; id -u; exit 4"}},
                                    {"tty", true},
                                    {"tty_size", {{"rows", 33}, {"cols", 99}}},
                                    {"user", "65534:65534"}});  // the world has no passwd entry for it
  EXPECT_EQ(exit["code"], 4);
  // A terminal merges stderr into stdout and ends lines with CR LF (onlcr).
  EXPECT_EQ(out, "/dev/pts/0\r\n33 99\r\n65534\r\n");
}

TEST_F(LjdInteractiveTest, AnUnknownUserIsABadRequest) {
  auto c = client();
  auto r = c.post("/v1/jails?start=true",
                  json{{"world", "bb"}, {"command", {"true"}}, {"user", "mallory"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("no user 'mallory'"), std::string::npos) << r->body;
  r = c.post("/v1/jails", json{{"world", "bb"}, {"command", {"true"}}, {"user", "a:b:c"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(r->json()["details"]["field"], "user") << r->body;
}

}  // namespace
}  // namespace lj::testing
