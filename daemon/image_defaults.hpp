// What an image's config gives a jail created from it: defaults the request overrides, as
// docker run applies them (image-spec config.md; docker's "ENTRYPOINT/CMD interaction").
//   command     request command: Entrypoint + command (it replaces Cmd, not Entrypoint);
//               none: Entrypoint + Cmd (a 400 when both are empty). A script ignores both.
//   env         the image's Env, then the request's variables over it
//   workdir     the request's, else WorkingDir, else /
//   user        the request's, else User (lib/jail resolves a name in the jail's own
//               /etc/passwd and /etc/group at start: JailSpec::user)
//   labels      the image's Labels, then the request's over them
//   stop_signal the request's, else StopSignal (what a stop naming no signal sends)
// ExposedPorts are reported by GET /v1/images/{ref} and weighed by the host policy as listening
// ports (policy.hpp); they publish nothing by themselves, unless the request says publish_all
// (ports_to_publish, then Jails::create picks the host ports).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "daemon/host_ports.hpp"
#include "daemon/jail_request.hpp"
#include "image/spec.hpp"

namespace lj::daemon {

// On error, *field names the request field at fault.
Status apply_image_config(CreateJail& req, const image::ImageConfig& config, std::string* field);

// publish_all: the config's ExposedPorts that req.net.ports does not publish already (same jail
// port and protocol), in the config's order; none without publish_all. A port that is not
// N[/tcp|udp] is the image's fault: Errc::invalid_argument.
Result<std::vector<ExposedPort>> ports_to_publish(const CreateJail& req,
                                                  const image::ImageConfig& config);

}  // namespace lj::daemon
