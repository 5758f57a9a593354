#include "log.hpp"

#include <mutex>
#include <unordered_map>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>

namespace lj {
namespace {

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v";

// Every logger writes through the one sink, which formats: the pattern is set on it once, when
// it is made. Setting it through each new logger compiled it again for every module (40 us of
// an `ljoci run`, whose first message is at debug level and never written).
spdlog::sink_ptr with_pattern(spdlog::sink_ptr sink) {
  sink->set_pattern(kPattern);
  return sink;
}

struct Registry {
  std::mutex mu;  // guards everything below
  spdlog::sink_ptr sink = with_pattern(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  spdlog::level::level_enum level = spdlog::level::info;
  std::unordered_map<std::string, std::shared_ptr<spdlog::logger>> loggers;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: loggers outlive static destructors
  return *r;
}

}  // namespace

std::shared_ptr<spdlog::logger> log(std::string_view module) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.loggers.find(std::string(module));
  if (it != r.loggers.end()) return it->second;
  auto logger = std::make_shared<spdlog::logger>(std::string(module), r.sink);
  logger->set_level(r.level);
  r.loggers.emplace(std::string(module), logger);
  return logger;
}

bool configure_logging(std::string_view level, LogSink sink, std::string_view ident) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") return false;
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  r.level = lvl;
  if (sink == LogSink::syslog_sink) {
    r.sink = with_pattern(std::make_shared<spdlog::sinks::syslog_sink_mt>(
        std::string(ident), 0, LOG_DAEMON, false));
  } else {
    r.sink = with_pattern(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  }
  for (auto& [name, logger] : r.loggers) {
    logger->sinks().assign(1, r.sink);
    logger->set_level(lvl);
  }
  return true;
}

}  // namespace lj
