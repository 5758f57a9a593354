// A world of network namespaces for one test: named "ljt<pid>-<name>", made with `ip netns add`,
// every one removed (and every process started in them killed) when the world is destroyed, on
// every path. Nothing here touches the machine's own namespace: links are made with `ip -n`.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/fd.hpp"

namespace lj::net::test {

struct Run {
  int status = -1;  // exit status, or -1 when it could not run
  std::string out;  // stdout and stderr
};

class NetnsWorld {
 public:
  NetnsWorld();
  ~NetnsWorld();
  NetnsWorld(const NetnsWorld&) = delete;
  NetnsWorld& operator=(const NetnsWorld&) = delete;

  // Makes namespace `name` (loopback up) and returns its full name.
  std::string add(const std::string& name);
  std::string full(const std::string& name) const { return prefix_ + name; }
  // An open descriptor of the namespace.
  UniqueFd fd(const std::string& name) const;
  // Runs `sh -c cmd` inside namespace `name`.
  Run exec(const std::string& name, const std::string& cmd) const;
  // Starts `argv` inside namespace `name` in the background; killed at the end.
  pid_t spawn(const std::string& name, const std::vector<std::string>& argv);
  // A directory with cgi-bin/ip, which answers the client's address (busybox httpd's REMOTE_ADDR).
  const std::string& www() const { return www_; }
  // Starts busybox httpd on `port` in `name` serving www(); waits until it answers locally.
  void httpd(const std::string& name, int port);
  // The body of GET http://host:port/cgi-bin/ip from inside `name` (empty with status != 0 when
  // it fails), with a 2 s timeout.
  Run get_ip(const std::string& name, const std::string& host, int port) const;

 private:
  std::string prefix_;
  std::vector<std::string> made_;
  std::vector<pid_t> procs_;
  std::string www_;
  // /run/netns was a mount point before our first `ip netns add`, which makes it a bind of itself
  // for good (iproute2): when it was not, the destructor undoes that once it is empty.
  std::optional<bool> dir_was_mounted_;
};

// Puts the calling thread into a namespace for the scope; back again at the end.
class Inside {
 public:
  explicit Inside(int netns_fd);
  ~Inside();
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;

 private:
  UniqueFd own_;
};

bool have_root_and_tools(std::string* why);

}  // namespace lj::net::test
