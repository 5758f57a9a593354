// Crash and restart: ljd killed (kill -9, or SIGKILL at a named crash point, see
// daemon/crash_point.hpp) during create, start, a running jail, an exit, a delete, a build, a
// world import, an overlay removal, and at random moments under load; then restarted on the same
// root. After each restart: running jails are re-adopted and wait answers their exit code; jails
// that died meanwhile have their exit recorded (or `lost`); nothing is left without an owner (no
// jail process, cgroup, mount, staging directory, status file or row in flight); the index passes
// PRAGMA integrity_check (read with sqlite3 beside the running ljd); the event log has no gap.
// Privileged (namespaces, mounts, cgroups): skipped with a reason when not root.
#include <dirent.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "jail_cgroups.hpp"
#include "ljd_process.hpp"

namespace lj::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Sets an environment variable for the ljd started in this scope (the child inherits it).
struct ScopedEnv {
  ScopedEnv(const char* k, const std::string& v) : key(k) { ::setenv(k, v.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(key); }
  const char* key;
};

json limits() {
  // Limits give every jail cgroups, so that their removal is checked too.
  return {{"memory_bytes", 256 << 20}, {"pids", 128}};
}

json sh(const std::string& script) {
  return {{"world", "bb"}, {"command", {"sh", "-c", script}}, {"limits", limits()}};
}

// ---- what the index says, read with sqlite3 beside ljd (WAL: a reader never blocks it) ----

struct Db {
  explicit Db(const fs::path& root) {
    std::string path = (root / ".ljd" / "index.db").string();
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "open " << path << ": " << sqlite3_errmsg(db);
    }
    sqlite3_busy_timeout(db, 5000);
  }
  ~Db() { sqlite3_close(db); }
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    std::vector<std::vector<std::string>> out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
      return out;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> r;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        auto t = sqlite3_column_text(st, i);
        r.push_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      out.push_back(std::move(r));
    }
    sqlite3_finalize(st);
    return out;
  }
  std::string one(const std::string& sql) {
    auto r = rows(sql);
    return r.empty() || r[0].empty() ? std::string() : r[0][0];
  }
  sqlite3* db = nullptr;
};

// ---- what the host says ----

// The jail inits (lj-init) holding a status file under `root`: the jails of this ljd that run.
// The lj-init processes of jails under `root` (found by their status file, descriptor 6 in
// <root>/.ljd/run/), by jail id.
std::map<std::string, pid_t> inits_by_id(const fs::path& root) {
  std::map<std::string, pid_t> out;
  std::string prefix = (root / ".ljd" / "run").string() + "/";
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream comm(e.path() / "comm");
    std::string name;
    if (!std::getline(comm, name) || name != "lj-init") continue;
    std::error_code ec;
    auto target = fs::read_symlink(e.path() / "fd" / "6", ec);
    if (!ec && target.string().rfind(prefix, 0) == 0)
      out[target.stem().string()] = std::stoi(pid);
  }
  return out;
}

std::set<std::string> inits_under(const fs::path& root) {
  std::set<std::string> out;
  for (const auto& [id, pid] : inits_by_id(root)) out.insert(id);
  return out;
}

std::vector<std::string> mounts_under(const fs::path& root) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    std::string f[5];
    for (auto& x : f) ss >> x;
    if (f[4].rfind(root.string() + "/", 0) == 0) out.push_back(f[4]);
  }
  return out;
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(it->path().filename());
  }
  return out;
}

// Idle pool cgroups (".pool-<pid>-<n>", lib/jail/linux/cgroup.hpp) a dead ljd `pid` left.
std::vector<std::string> pool_cgroups_of(pid_t pid) {
  std::vector<std::string> found;
  std::string prefix = ".pool-" + std::to_string(pid) + "-";
  for (const auto& base : ljd_cgroup_bases()) {
    for (const auto& dir : with_scopes(base)) {
      for (const auto& e : entries(dir)) {
        if (e.rfind(prefix, 0) == 0) found.push_back(dir + "/" + e);
      }
    }
  }
  return found;
}

// ---- the invariants after a restart ----

// `live`: the ids of the jails that should run now.
void expect_consistent(LjdProcess& ljd, const std::set<std::string>& live,
                       const std::vector<pid_t>& dead_ljds = {}) {
  SCOPED_TRACE("ljd log:\n" + ljd.log());
  auto c = ljd.client();
  auto info = c.get("/v1/info");
  ASSERT_TRUE(info);
  ASSERT_EQ(info->status, 200) << info->body;
  json i = info->json();
  EXPECT_EQ(i["index"]["integrity_check"], "ok") << info->body;
  EXPECT_FALSE(i["index"]["epoch"].get<std::string>().empty());

  Db db(ljd.root());
  EXPECT_EQ(db.one("PRAGMA integrity_check"), "ok");
  // Nothing in flight but the live jails: no create, start, build or import half-done.
  std::set<std::string> in_flight;
  for (auto& r : db.rows("SELECT id, state FROM jails WHERE state IN "
                         "('creating', 'running', 'stopping')")) {
    EXPECT_NE(r[1], "creating") << r[0];
    in_flight.insert(r[0]);
  }
  EXPECT_EQ(in_flight, live);
  EXPECT_EQ(db.one("SELECT count(*) FROM builds WHERE state IN ('queued', 'running')"), "0");
  EXPECT_EQ(db.one("SELECT count(*) FROM worlds WHERE state = 'importing'"), "0");

  // The event log: 1..last, no gap, and last is what /v1/info says.
  auto ev = c.get("/v1/events?since=0");
  ASSERT_TRUE(ev);
  std::int64_t expect_seq = 1;
  std::istringstream lines(ev->body);
  for (std::string line; std::getline(lines, line);) {
    json e = json::parse(line, nullptr, false);
    if (!e.contains("seq")) continue;
    EXPECT_EQ(e["seq"].get<std::int64_t>(), expect_seq) << line;
    expect_seq = e["seq"].get<std::int64_t>() + 1;
  }
  EXPECT_EQ(expect_seq - 1, i["event_seq"].get<std::int64_t>());
  EXPECT_EQ(db.one("SELECT count(*) FROM events"), std::to_string(expect_seq - 1));

  // The host: only the live jails run; no cgroup of any other jail or build; no mount under the
  // root; no staging leftovers, inline build contexts or status files of dead jails.
  EXPECT_EQ(inits_under(ljd.root()), live);
  for (auto& r : db.rows("SELECT id FROM jails UNION ALL SELECT 'lj-' || id FROM builds")) {
    if (live.count(r[0])) continue;
    EXPECT_EQ(cgroups_named(r[0]), std::vector<std::string>{}) << r[0];
  }
  EXPECT_EQ(mounts_under(ljd.root()), std::vector<std::string>{});
  for (pid_t dead : dead_ljds) EXPECT_EQ(pool_cgroups_of(dead), std::vector<std::string>{});
  EXPECT_EQ(entries(ljd.root() / ".staging"), std::vector<std::string>{});
  std::set<std::string> status_files;
  for (auto& f : entries(ljd.root() / ".ljd" / "run")) status_files.insert(fs::path(f).stem());
  EXPECT_EQ(status_files, live);
  for (auto& f : entries(ljd.root() / ".ljd" / "builds")) {
    EXPECT_EQ(f.find(".context"), std::string::npos) << f;
  }
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::getuid() != 0) GTEST_SKIP() << "needs root: jails need namespaces, mounts and cgroups";
    ljd_ = std::make_unique<LjdProcess>("heartbeat = 1s\nworkers = 4\n");
    ASSERT_TRUE(ljd_->make_busybox_world("bb"));
  }
  void TearDown() override {
    if (!ljd_) return;
    // Whatever a failed test left running goes with the ljd that owns it.
    if (!ljd_->running()) (void)ljd_->start();
    ljd_.reset();
  }

  // Starts ljd armed to die at `point`, runs `action`, and expects ljd to die there.
  template <class F>
  void crash_at(const std::string& point, F action) {
    {
      ScopedEnv env("LJD_CRASH_AT", point);
      auto st = ljd_->start();
      ASSERT_TRUE(st) << st.error().what();
    }
    action();
    int status = ljd_->wait_exit(20s);
    if (status == -1) ljd_->crash();  // never leave it running behind a failed test
    ASSERT_NE(status, -1) << "ljd did not die at " << point << "\n" << ljd_->log();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  }
  void restart() {
    auto st = ljd_->start();
    ASSERT_TRUE(st) << st.error().what();
  }
  json info() { return ljd_->client().get("/v1/info")->json(); }
  json wait_jail(const std::string& id) {
    auto c = ljd_->client();
    auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=20");
    EXPECT_TRUE(w);
    return w ? w->json() : json();
  }
  // A jail that a test re-adopts must still run when the next ljd is up, however long the restart
  // takes (seconds under a sanitizer on a loaded machine): it runs until released, SIGTERM to its
  // processes through the API, and then exits with `code`.
  static json held(int code) {
    return sh("trap 'exit " + std::to_string(code) + "' TERM; while :; do sleep 0.1; done");
  }
  void release(const std::string& id) {
    auto r = ljd_->client().post("/v1/jails/" + id + "/kill", {{"signal", "SIGTERM"}});
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "");
  }
  // POST that ljd dies in the middle of: no answer is expected.
  void post_and_die(const std::string& target, const json& body) {
    auto c = ljd_->client();
    (void)c.post(target, body);
  }
  std::string import_source() {
    if (!fs::exists(ljd_->root() / "src")) {
      EXPECT_TRUE(ljd_->make_busybox_world("srcw"));
      fs::rename(ljd_->root() / "worlds" / "srcw", ljd_->root() / "src");
    }
    return (ljd_->root() / "src").string();
  }

  std::unique_ptr<LjdProcess> ljd_;
};

// Caught in create, before `created`: nobody saw the jail (no event); the create is rolled back.
TEST_F(CrashTest, CreateAfterRowIsRolledBack) {
  crash_at("create.after_row", [&] { post_and_die("/v1/jails", sh("exit 0")); });
  restart();
  EXPECT_EQ(info()["recovery"]["jails"]["discarded"], 1);
  Db db(ljd_->root());
  EXPECT_EQ(db.one("SELECT count(*) FROM jails"), "0");
  expect_consistent(*ljd_, {});
}

// Caught right after `created`: the jail stays created and starts normally after the restart.
TEST_F(CrashTest, CreatedJailSurvivesAndStarts) {
  crash_at("create.after_created", [&] { post_and_die("/v1/jails", sh("exit 6")); });
  restart();
  Db db(ljd_->root());
  std::string id = db.one("SELECT id FROM jails WHERE state = 'created'");
  ASSERT_FALSE(id.empty());
  expect_consistent(*ljd_, {});
  auto c = ljd_->client();
  auto r = c.post("/v1/jails/" + id + "/start", json::object());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(wait_jail(id)["exit"]["code"], 6);
}

// Caught between spawn and the row saying running: the process runs with no handle recorded.
// Recovery finds it (by its status file and name), kills it, removes its cgroups, rolls back.
TEST_F(CrashTest, StartAfterSpawnKillsTheUnrecordedJail) {
  crash_at("start.after_spawn", [&] { post_and_die("/v1/jails?start=true", sh("sleep 30")); });
  restart();
  EXPECT_EQ(info()["recovery"]["jails"]["discarded"], 1);
  expect_consistent(*ljd_, {});
}

// The same in a start of a created jail: it is still created afterwards and starts again.
TEST_F(CrashTest, StartOfCreatedJailAfterSpawn) {
  restart();
  std::string id;
  {
    auto c = ljd_->client();
    auto r = c.post("/v1/jails", sh("sleep 0.2; exit 3"));
    ASSERT_TRUE(r);
    id = r->json()["id"];
  }
  ljd_->stop();
  crash_at("start.after_spawn",
           [&] { post_and_die("/v1/jails/" + id + "/start", json::object()); });
  restart();
  expect_consistent(*ljd_, {});
  auto c = ljd_->client();
  EXPECT_EQ(c.get("/v1/jails/" + id)->json()["state"], "created");
  ASSERT_EQ(c.post("/v1/jails/" + id + "/start", json::object())->status, 200);
  EXPECT_EQ(wait_jail(id)["exit"]["code"], 3);
}

// Caught right after the row says running: the jail is re-adopted; wait gets its exit code.
TEST_F(CrashTest, StartAfterRowIsReadopted) {
  crash_at("start.after_row", [&] { post_and_die("/v1/jails?start=true", held(7)); });
  restart();
  EXPECT_EQ(info()["recovery"]["jails"]["adopted"], 1);
  Db db(ljd_->root());
  std::string id = db.one("SELECT id FROM jails");
  expect_consistent(*ljd_, {id});
  release(id);
  json w = wait_jail(id);
  EXPECT_EQ(w["state"], "exited");
  EXPECT_EQ(w["exit"]["code"], 7) << w;
  expect_consistent(*ljd_, {});
}

// Caught after the teardown of an ended jail, before its exit was recorded: the exit is read
// back from the status file its init left.
TEST_F(CrashTest, ExitBeforeRecordIsReadBack) {
  crash_at("exit.before_record", [&] { post_and_die("/v1/jails?start=true", sh("exit 5")); });
  restart();
  EXPECT_EQ(info()["recovery"]["jails"]["ended"], 1);
  Db db(ljd_->root());
  std::string id = db.one("SELECT id FROM jails");
  EXPECT_EQ(wait_jail(id)["exit"]["code"], 5);
  expect_consistent(*ljd_, {});
}

// Exit recorded, status file not yet removed: the restarted ljd removes it (found by the random
// kills: a status file of a dead jail left behind).
TEST_F(CrashTest, ExitAfterRecordLeavesNoStatusFile) {
  crash_at("exit.after_record", [&] { post_and_die("/v1/jails?start=true", sh("exit 6")); });
  Db db(ljd_->root());
  std::string id = db.one("SELECT id FROM jails");
  EXPECT_TRUE(fs::exists(ljd_->root() / ".ljd" / "run" / (id + ".status")));
  restart();
  EXPECT_EQ(info()["recovery"]["jails"]["ended"], 0);  // it had ended before the crash
  EXPECT_EQ(wait_jail(id)["exit"]["code"], 6);
  expect_consistent(*ljd_, {});
}

// Another process holds the index's write lock (sqlite3 BEGIN IMMEDIATE) while a jail exits: the
// record fails with SQLITE_BUSY. The status file outlives the failed write (it used to be
// unlinked: after a restart the exit was `lost`), /v1/info shows the pending record, and either
// the retry (lock let go) or the next ljd's recovery (killed meanwhile) records the right code.
struct WriteLock {
  explicit WriteLock(const fs::path& root) {
    std::string path = (root / ".ljd" / "index.db").string();
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    EXPECT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
  }
  void release() {
    if (db) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    db = nullptr;
  }
  ~WriteLock() { release(); }
  sqlite3* db = nullptr;
};

void exit_while_the_index_is_locked(LjdProcess& ljd, bool crash_meanwhile) {
  auto c = ljd.client();
  auto r = c.post("/v1/jails?start=true", sh("sleep 1; exit 7"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  std::string id = r->json()["id"];
  auto status = ljd.root() / ".ljd" / "run" / (id + ".status");
  WriteLock lock(ljd.root());
  json pending;
  for (int i = 0; i < 300; ++i) {  // the first attempt fails after ljd's busy timeout (5 s)
    auto info = ljd.client().get("/v1/info");
    ASSERT_TRUE(info);
    pending = info->json()["exit_records"];
    if (pending.value("pending", 0) == 1) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(pending.value("pending", 0), 1) << pending.dump();
  EXPECT_GE(pending.value("failed_writes", 0), 1) << pending.dump();
  EXPECT_TRUE(fs::exists(status)) << "the durable copy of the exit went before the record";
  if (crash_meanwhile) {
    ljd.crash();
    lock.release();
    auto st = ljd.start();
    ASSERT_TRUE(st) << st.error().what();
  } else {
    lock.release();
  }
  auto w = ljd.client().get("/v1/jails/" + id + "/wait?timeout_s=30");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["exit"]["code"], 7) << w->body;
  EXPECT_EQ(w->json()["exit"]["lost"], false) << w->body;
  EXPECT_FALSE(fs::exists(status));
  if (!crash_meanwhile) {
    auto info = ljd.client().get("/v1/info");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->json()["exit_records"]["pending"], 0) << info->body;
  }
}

TEST_F(CrashTest, ExitRecordRefusedByALockedIndexIsRetried) {
  restart();
  exit_while_the_index_is_locked(*ljd_, false);
  expect_consistent(*ljd_, {});
}

TEST_F(CrashTest, ExitRecordRefusedByALockedIndexIsFinishedByRecovery) {
  restart();
  exit_while_the_index_is_locked(*ljd_, true);
  EXPECT_EQ(info()["recovery"]["jails"]["ended"], 1);
  expect_consistent(*ljd_, {});
}

// kill -9 with jails in every situation: one keeps running (re-adopted), one exits with a code
// and one is killed by a signal while ljd is down (both read back from their status files), one
// whose whole jail is killed meanwhile, status file unwritten (recorded lost).
TEST_F(CrashTest, KillNineWithRunningJails) {
  restart();
  auto c = ljd_->client();
  auto run = [&](const json& spec) {
    auto r = c.post("/v1/jails?start=true", spec);
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "");
    return r ? r->json()["id"].get<std::string>() : std::string();
  };
  std::string keeps = run(held(3));
  std::string exits = run(held(4));
  std::string signalled = run(sh("trap 'kill -9 $$' TERM; while :; do sleep 0.1; done"));
  std::string lost = run(sh("sleep 30"));
  pid_t dead = ljd_->pid();
  ljd_->crash();
  // While ljd is down (the jails are told only now, so that none ends before the crash however
  // slow the spawns): SIGTERM to the inits of `exits` and `signalled`, which forward it to their
  // commands; SIGKILL to the whole of `lost` (its init), so no status is ever written.
  std::vector<pid_t> ending;
  const auto inits = inits_by_id(ljd_->root());
  for (auto [id, sig] : {std::pair{exits, SIGTERM}, {signalled, SIGTERM}, {lost, SIGKILL}}) {
    auto found = inits.find(id);
    const pid_t init = found == inits.end() ? 0 : found->second;
    ASSERT_GT(init, 0) << id;
    ASSERT_EQ(::kill(init, sig), 0) << id;
    ending.push_back(init);
  }
  for (int i = 0; i < 200 && std::any_of(ending.begin(), ending.end(),
                                         [](pid_t p) { return fs::exists("/proc/" + std::to_string(p)); });
       ++i)
    std::this_thread::sleep_for(50ms);
  restart();
  json r = info()["recovery"]["jails"];
  EXPECT_EQ(r["adopted"], 1) << r;
  EXPECT_EQ(r["ended"], 2) << r;
  EXPECT_EQ(r["lost"], 1) << r;
  expect_consistent(*ljd_, {keeps}, {dead});
  EXPECT_EQ(wait_jail(exits)["exit"]["code"], 4);
  EXPECT_EQ(wait_jail(signalled)["exit"]["signal"], 9);
  json l = wait_jail(lost);
  EXPECT_EQ(l["state"], "exited");
  EXPECT_EQ(l["exit"]["lost"], true) << l;
  release(keeps);
  EXPECT_EQ(wait_jail(keeps)["exit"]["code"], 3);
  expect_consistent(*ljd_, {});
}

// The jail's output pipes outlive ljd: their read ends are also held by the jail's init, so what
// a jail prints while ljd is down waits in the pipes (no EPIPE, no SIGPIPE) and the next ljd,
// which takes them back from init, logs it; the seq goes on from the lines logged before.
TEST_F(CrashTest, OutputWrittenWhileDownIsKept) {
  restart();
  std::string id;
  {
    auto c = ljd_->client();
    auto r = c.post("/v1/jails?start=true",
                    sh("echo before; sleep 0.8; echo during; echo oops >&2; sleep 2.5; "
                       "echo after; exit 5"));  // still running when even a slow restart ends
    ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "");
    id = r->json()["id"];
  }
  std::this_thread::sleep_for(300ms);  // "before" is logged by this ljd
  pid_t dead = ljd_->pid();
  ljd_->crash();
  std::this_thread::sleep_for(900ms);  // "during" and "oops" are written while no ljd runs
  restart();
  EXPECT_EQ(info()["recovery"]["jails"]["adopted"], 1);
  json w = wait_jail(id);
  EXPECT_EQ(w["exit"]["code"], 5) << w;  // not 141: no SIGPIPE
  auto logs = ljd_->client().get("/v1/jails/" + id + "/logs");
  ASSERT_TRUE(logs);
  std::string out, err;
  std::vector<std::uint64_t> seqs;
  std::istringstream in(logs->body);
  for (std::string line; std::getline(in, line);) {
    json rec = json::parse(line);
    seqs.push_back(rec["seq"]);
    if (rec.value("stream", "") == "stdout") out += rec["data"].get<std::string>();
    if (rec.value("stream", "") == "stderr") err += rec["data"].get<std::string>();
  }
  EXPECT_EQ(out, "before\nduring\nafter\n") << logs->body;
  EXPECT_EQ(err, "oops\n") << logs->body;
  for (std::size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1) << logs->body;
  expect_consistent(*ljd_, {}, {dead});
}

// The jail ENDS while no ljd runs: what it wrote after the crash is still logged by the next
// ljd, and its exit is its own (not lost). Its init stays until the output is taken back.
TEST_F(CrashTest, OutputOfAJailThatEndsWhileDownIsKept) {
  restart();
  std::string id;
  {
    auto c = ljd_->client();
    auto r = c.post("/v1/jails?start=true",
                    sh("echo before; sleep 0.6; echo during; echo oops >&2; exit 4"));
    ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "");
    id = r->json()["id"];
  }
  std::this_thread::sleep_for(300ms);  // "before" is logged by this ljd
  pid_t dead = ljd_->pid();
  ljd_->crash();
  std::this_thread::sleep_for(1500ms);  // the command writes and ends while no ljd runs
  restart();
  json w = wait_jail(id);
  EXPECT_EQ(w["exit"]["code"], 4) << w;
  EXPECT_EQ(w["exit"]["lost"], false) << w;
  auto logs = ljd_->client().get("/v1/jails/" + id + "/logs");
  ASSERT_TRUE(logs);
  std::string out, err;
  std::istringstream in(logs->body);
  for (std::string line; std::getline(in, line);) {
    json rec = json::parse(line);
    if (rec.value("stream", "") == "stdout") out += rec["data"].get<std::string>();
    if (rec.value("stream", "") == "stderr") err += rec["data"].get<std::string>();
  }
  EXPECT_EQ(out, "before\nduring\n") << logs->body;
  EXPECT_EQ(err, "oops\n") << logs->body;
  expect_consistent(*ljd_, {}, {dead});
}

// A forced delete caught after the kill: the jail is gone; its exit and its removal are recorded
// at restart.
TEST_F(CrashTest, DeleteAfterKill) {
  std::string id;
  crash_at("delete.after_kill", [&] {
    auto c = ljd_->client();
    auto r = c.post("/v1/jails?start=true", sh("sleep 30"));
    ASSERT_TRUE(r && r->status == 201);
    id = r->json()["id"];
    (void)c.del("/v1/jails/" + id + "?force=true");
  });
  restart();
  // The delete was recorded before the kill: the jail ends removed, with an exit record (lost:
  // the whole jail, its init too, was killed, so nobody wrote how the command ended).
  json w = wait_jail(id);
  EXPECT_EQ(w["state"], "removed") << w;
  EXPECT_TRUE(w["exit"]["lost"] == true || w["exit"]["signal"] == 9) << w;
  expect_consistent(*ljd_, {});
  EXPECT_EQ(ljd_->client().del("/v1/jails/" + id)->status, 404);
}

// A build caught while its script runs: the build jail dies with ljd, the build is failed
// (interrupted), its staging layer is removed, nothing is published.
TEST_F(CrashTest, BuildInterrupted) {
  crash_at("build.output", [&] {
    auto c = ljd_->client();
    auto b = c.post("/v1/builds", {{"jailfile",
                                    "name demo/slow\nversion 1.0.0\nworld bb\n#!/bin/sh\n"
                                    "echo started; touch /partial; sleep 30\n"},
                                   {"limits", limits()}});
    ASSERT_TRUE(b && b->status == 202) << (b ? b->body : "");
  });
  restart();
  EXPECT_EQ(info()["recovery"]["builds"]["failed"], 1);
  auto c = ljd_->client();
  auto bs = c.get("/v1/builds")->json();
  ASSERT_EQ(bs.size(), 1u);
  EXPECT_EQ(bs[0]["state"], "failed");
  EXPECT_EQ(c.get("/v1/overlays/demo/slow/1.0.0")->status, 404);
  EXPECT_FALSE(fs::exists(ljd_->root() / "demo" / "slow"));
  expect_consistent(*ljd_, {});
}

// The build of demo/quick 1.0.0, its Jailfile inline (so it has a context of ljd's making).
json quick_build() {
  return {{"jailfile", "name demo/quick\nversion 1.0.0\nworld bb\n#!/bin/sh\necho hi > /hello\n"}};
}

// A build caught after it published, before its rows: recovery records it as succeeded.
TEST_F(CrashTest, BuildPublishedBeforeRecord) {
  crash_at("build.before_record", [&] {
    auto b = ljd_->client().post("/v1/builds", quick_build());
    ASSERT_TRUE(b && b->status == 202);
  });
  restart();
  EXPECT_EQ(info()["recovery"]["builds"]["published"], 1);
  auto c = ljd_->client();
  auto bs = c.get("/v1/builds")->json();
  ASSERT_EQ(bs.size(), 1u);
  EXPECT_EQ(bs[0]["state"], "succeeded") << bs;
  EXPECT_EQ(c.get("/v1/overlays/demo/quick/1.0.0")->status, 200);
  Db db(ljd_->root());
  EXPECT_EQ(db.one("SELECT count(*) FROM overlays WHERE name = 'demo/quick'"), "1");
  expect_consistent(*ljd_, {});
}

// A build caught after its end was recorded: nothing of it is left for recovery to find (the
// inline context went before the record; it used to stay for good, as RandomKillsUnderLoad found
// in a sanitized run).
TEST_F(CrashTest, BuildRecordedLeavesNoContext) {
  crash_at("build.after_record", [&] {
    auto b = ljd_->client().post("/v1/builds", quick_build());
    ASSERT_TRUE(b && b->status == 202);
  });
  restart();
  auto bs = ljd_->client().get("/v1/builds")->json();
  ASSERT_EQ(bs.size(), 1u);
  EXPECT_EQ(bs[0]["state"], "succeeded") << bs;
  expect_consistent(*ljd_, {});
}

// An overlay removal caught between the directory and the row: the row goes at restart.
TEST_F(CrashTest, OverlayRemovedBeforeRow) {
  restart();
  {
    auto c = ljd_->client();
    auto b = c.post("/v1/builds",
                    {{"jailfile", "name demo/gone\nversion 1.0.0\nworld bb\n#!/bin/sh\ntrue\n"}});
    ASSERT_TRUE(b && b->status == 202);
    auto w = c.get("/v1/builds/" + b->json()["id"].get<std::string>() + "/wait?timeout_s=30");
    ASSERT_EQ(w->json()["build"]["state"], "succeeded") << w->body;
  }
  ljd_->stop();
  crash_at("overlay.after_remove",
           [&] { (void)ljd_->client().del("/v1/overlays/demo/gone/1.0.0"); });
  restart();
  EXPECT_EQ(info()["recovery"]["overlay_rows_removed"], 1);
  Db db(ljd_->root());
  EXPECT_EQ(db.one("SELECT count(*) FROM overlays"), "0");
  expect_consistent(*ljd_, {});
}

// A world import caught half-way through copying: failed, staging removed, no world directory.
TEST_F(CrashTest, WorldImportInterrupted) {
  std::string src = import_source();
  crash_at("world.copying:20", [&] {
    post_and_die("/v1/worlds", {{"name", "half"}, {"source", src}});
  });
  restart();
  EXPECT_EQ(info()["recovery"]["imports"]["failed"], 1);
  auto c = ljd_->client();
  EXPECT_EQ(c.get("/v1/worlds/half")->json()["state"], "failed");
  EXPECT_FALSE(fs::exists(ljd_->root() / "worlds" / "half"));
  expect_consistent(*ljd_, {});
  // The name is free again: a new import succeeds.
  ASSERT_EQ(c.post("/v1/worlds", {{"name", "half"}, {"source", src}})->status, 202);
  EXPECT_EQ(c.get("/v1/worlds/half/wait?timeout_s=30")->json()["world"]["state"], "ready");
}

// A world import caught after its rename, before its row said ready: recorded ready.
TEST_F(CrashTest, WorldImportDoneBeforeRecord) {
  std::string src = import_source();
  crash_at("world.before_ready", [&] {
    post_and_die("/v1/worlds", {{"name", "full"}, {"source", src}});
  });
  restart();
  EXPECT_EQ(info()["recovery"]["imports"]["ready"], 1);
  auto c = ljd_->client();
  json w = c.get("/v1/worlds/full")->json();
  EXPECT_EQ(w["state"], "ready") << w;
  EXPECT_GT(w["size_bytes"].get<std::int64_t>(), 0);
  expect_consistent(*ljd_, {});
}

// Recovery itself killed half-way, then run again: it finishes what the first one started.
TEST_F(CrashTest, CrashDuringRecovery) {
  restart();
  {
    auto c = ljd_->client();
    for (int i = 0; i < 3; ++i) {
      auto r = c.post("/v1/jails?start=true", sh("sleep 30"));
      ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer") << "\n" << ljd_->log();
    }
  }
  ljd_->crash();
  // Kill the jails meanwhile: recovery has three to settle, and dies after the first.
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::error_code ec;
    auto t = fs::read_symlink(e.path() / "fd" / "6", ec);
    if (!ec && t.string().rfind(ljd_->root().string(), 0) == 0) {
      ::kill(std::stoi(e.path().filename()), SIGKILL);
    }
  }
  for (int i = 0; i < 200 && !inits_under(ljd_->root()).empty(); ++i)
    std::this_thread::sleep_for(10ms);
  {
    ScopedEnv env("LJD_CRASH_AT", "recover.after_settle");
    EXPECT_FALSE(ljd_->start());  // dies before it is ready
  }
  if (ljd_->running()) ljd_->crash();
  ASSERT_FALSE(::testing::Test::HasFailure());
  restart();
  expect_consistent(*ljd_, {});
  Db db(ljd_->root());
  EXPECT_EQ(db.one("SELECT count(*) FROM jails WHERE state = 'exited' AND lost = 1"), "3");
}

// index_synchronous = full: the setting reaches the index and a crash loses nothing either.
TEST_F(CrashTest, FullSynchronousIndex) {
  ljd_ = std::make_unique<LjdProcess>("index_synchronous = full\n");
  ASSERT_TRUE(ljd_->make_busybox_world("bb"));
  restart();
  EXPECT_EQ(info()["index"]["synchronous"], "full");
  std::string id;
  {
    auto c = ljd_->client();
    auto r = c.post("/v1/jails?start=true", sh("exit 2"));
    ASSERT_TRUE(r && r->status == 201);
    id = r->json()["id"];
    EXPECT_EQ(wait_jail(id)["exit"]["code"], 2);
  }
  ljd_->crash();
  restart();
  EXPECT_EQ(wait_jail(id)["exit"]["code"], 2);
  expect_consistent(*ljd_, {});
}

// The API answers 503 (with a JSON error) until reconciliation is done, then 200; /v1/_ping
// answers throughout.
TEST_F(CrashTest, ServesOnlyAfterReconciliation) {
  std::vector<int> seen;
  json busy;
  std::atomic<bool> stop{false};
  bool ping_ok = false;
  std::thread poller([&] {
    while (!stop) {
      auto c = HttpClient::connect(ljd_->socket());
      if (c) {
        auto r = c->get("/v1/jails");
        if (r) {
          if (seen.empty() || seen.back() != r->status) seen.push_back(r->status);
          if (r->status == 503) {
            busy = r->json();
            auto p = c->get("/v1/_ping");
            ping_ok = ping_ok || (p && p->status == 200);
          }
        }
      }
      std::this_thread::sleep_for(5ms);
    }
  });
  {
    ScopedEnv env("LJD_RECOVERY_DELAY_MS", "800");
    auto st = ljd_->start();
    ASSERT_TRUE(st) << st.error().what();
  }
  std::this_thread::sleep_for(50ms);
  stop = true;
  poller.join();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front(), 503);
  EXPECT_EQ(seen.back(), 200);
  EXPECT_EQ(busy["code"], "api.busy") << busy;
  EXPECT_NE(busy["message"].get<std::string>().find("reconcil"), std::string::npos);
  EXPECT_TRUE(ping_ok);
}

// kill -9 at random moments under load (jails starting, running and ending, a build): after
// every restart the invariants hold and every jail ends with its own exit code.
TEST_F(CrashTest, RandomKillsUnderLoad) {
  std::mt19937 rng(static_cast<unsigned>(::getpid()));
  std::map<std::string, int> expected;  // jail id -> exit code
  const std::string src = import_source();
  for (int round = 0; round < 5; ++round) {
    restart();
    std::atomic<bool> done{false};
    std::vector<std::thread> load;
    std::mutex mu;
    for (int t = 0; t < 3; ++t) {
      load.emplace_back([&, t] {
        auto c = HttpClient::connect(ljd_->socket());
        for (int n = 0; c && !done; ++n) {
          int code = (t * 10 + n) % 50 + 1;
          auto r = c->post("/v1/jails?start=true", sh("sleep 0." + std::to_string(n % 4) +
                                                      "; exit " + std::to_string(code)));
          if (!r) break;  // ljd died
          if (r->status == 201) {
            std::lock_guard lk(mu);
            expected[r->json()["id"]] = code;
          }
        }
      });
    }
    {
      auto c = ljd_->client();
      if (round % 2 == 0) {
        (void)c.post("/v1/builds",
                     {{"jailfile", "name demo/r" + std::to_string(round) +
                                       "\nversion 1.0.0\nworld bb\n#!/bin/sh\nsleep 0.2\n"}});
      } else {
        (void)c.post("/v1/worlds", {{"name", "w" + std::to_string(round)}, {"source", src}});
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 400));
    pid_t dead = ljd_->pid();
    ljd_->crash();
    done = true;
    for (auto& th : load) th.join();
    restart();
    // Let the re-adopted jails end (they are short), then nothing may be left.
    {
      Db db(ljd_->root());
      for (auto& r : db.rows("SELECT id FROM jails WHERE state IN ('running', 'stopping')")) {
        EXPECT_EQ(wait_jail(r[0])["state"], "exited");
      }
    }
    expect_consistent(*ljd_, {}, {dead});
    if (::testing::Test::HasFailure()) return;
    if (round < 4) ljd_->crash();  // a quiet moment is a moment too
  }
  // Every jail created with a 201 ends with its own code, or `lost` when ljd was down at its end
  // and the kernel could not tell (none here: inits write their status file).
  auto c = ljd_->client();
  for (const auto& [id, code] : expected) {
    json w = wait_jail(id);
    EXPECT_EQ(w["exit"]["code"], code) << id << " " << w;
  }
  expect_consistent(*ljd_, {});
}

}  // namespace
}  // namespace lj::testing
