// One spdlog logger per module ("jail", "overlay", "build", "daemon", "index", ...), all sharing
// one sink. Levels: debug = syscalls and SQL, info = lifecycle transitions, warn = degraded,
// error = failed. Messages carry key=value context: log("jail")->info("started jail={} pid={}", ...).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

namespace lj {

// The logger of a module; created on first use with the current sink and level. Thread-safe.
std::shared_ptr<spdlog::logger> log(std::string_view module);

enum class LogSink { stderr_sink, syslog_sink };
// Reconfigures every module logger. level: "trace", "debug", "info", "warn", "error", "off".
// Returns false for an unknown level name (and leaves the level unchanged).
bool configure_logging(std::string_view level, LogSink sink = LogSink::stderr_sink,
                       std::string_view ident = "ljd");

}  // namespace lj
