// The index on the daemon's hot path: a jail costs three write transactions (insert, started,
// exit record + event). Measured on a real file (in $LJ_BENCH_DIR, else the temp directory: use
// the file system the daemon's root lives on), with synchronous=NORMAL and FULL.
//   build/bench/index_bench --benchmark_counters_tabular=true
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "index/index.hpp"

namespace {

using lj::index::Index;
using Clock = std::chrono::steady_clock;

std::filesystem::path bench_dir() {
  const char* env = std::getenv("LJ_BENCH_DIR");
  std::filesystem::path base = env ? env : std::filesystem::temp_directory_path();
  std::string tmpl = (base / ("lj-index-bench-" + std::to_string(::getpid()) + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

void BM_JailLifecycle(benchmark::State& state) {
  const auto dir = bench_dir();
  lj::index::Options opts;
  opts.synchronous = state.range(0) ? lj::index::Synchronous::full : lj::index::Synchronous::normal;
  // Arg 2: :memory:, the CPU floor without any file I/O.
  auto idx = Index::open(state.range(0) == 2 ? ":memory:" : (dir / "index.db").string(), opts);
  if (!idx) {
    state.SkipWithError(idx.error().what().c_str());
    return;
  }
  double insert_ns = 0, start_ns = 0, exit_ns = 0;
  lj::index::JailRow row;
  row.spec = R"({"command":["/bin/true"],"limits":{"memory_bytes":67108864}})";
  row.labels = {{"app", "bench"}};
  for (auto _ : state) {
    auto t0 = Clock::now();
    auto j = idx->insert_jail(row);
    auto t1 = Clock::now();
    auto s = idx->transition(j->id, lj::index::JailState::running,
                             lj::index::ProcessHandle{1234, 5678, "/sys/fs/cgroup/ljd/x", 0}, 0);
    auto t2 = Clock::now();
    auto e =
        idx->transition(j->id, lj::index::JailState::exited, lj::index::ExitRecord{.exit_code = 0});
    auto t3 = Clock::now();
    if (!j || !s || !e) {
      auto& err = !j ? j.error() : !s ? s.error() : e.error();
      state.SkipWithError(err.what().c_str());
      break;
    }
    insert_ns += std::chrono::duration<double, std::nano>(t1 - t0).count();
    start_ns += std::chrono::duration<double, std::nano>(t2 - t1).count();
    exit_ns += std::chrono::duration<double, std::nano>(t3 - t2).count();
  }
  const double n = static_cast<double>(state.iterations()) * 1000.0;
  state.counters["insert_us"] = insert_ns / n;
  state.counters["start_us"] = start_ns / n;
  state.counters["exit_us"] = exit_ns / n;
  state.counters["tx_us"] = (insert_ns + start_ns + exit_ns) / (3 * n);  // wall, per transaction
  idx = lj::fail(lj::Errc::internal, "bench", "closed");  // close before removing the files
  std::filesystem::remove_all(dir);
}
// 0: synchronous=NORMAL, 1: synchronous=FULL, 2: :memory:
BENCHMARK(BM_JailLifecycle)->ArgName("mode")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

void BM_EventsSince(benchmark::State& state) {
  auto idx = Index::open(":memory:");
  for (int i = 0; i < 10000; ++i) (void)idx->append_event("jail.started", "j-00000000", 0);
  std::int64_t since = 0;
  for (auto _ : state) {
    auto b = idx->events_since(since, 100);
    since = b->events.empty() ? 0 : b->events.back().seq;
    benchmark::DoNotOptimize(b);
  }
}
BENCHMARK(BM_EventsSince)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
