#include "log.hpp"

#include <mutex>
#include <unordered_map>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>

namespace lj {
namespace {

struct Registry {
  std::mutex mu;  // guards everything below
  spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
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
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
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
    r.sink = std::make_shared<spdlog::sinks::syslog_sink_mt>(std::string(ident), 0, LOG_DAEMON,
                                                              false);
  } else {
    r.sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  for (auto& [name, logger] : r.loggers) {
    logger->sinks().assign(1, r.sink);
    logger->set_level(lvl);
  }
  return true;
}

}  // namespace lj
