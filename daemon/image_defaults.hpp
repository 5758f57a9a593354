// What an image's config gives a jail created from it: defaults the request overrides, as
// docker run applies them (image-spec config.md; docker's "ENTRYPOINT/CMD interaction").
//   command     request command: Entrypoint + command (it replaces Cmd, not Entrypoint);
//               none: Entrypoint + Cmd (a 400 when both are empty). A script ignores both.
//   env         the image's Env, then the request's variables over it
//   workdir     the request's, else WorkingDir, else /
//   user        the request's, else User; a name is looked up in the root's /etc/passwd and
//               /etc/group (the topmost layer that has the file), and stored as uid:gid
//   labels      the image's Labels, then the request's over them
// ExposedPorts and StopSignal are reported by GET /v1/images/{ref} but not applied (jails have
// no published ports or stop signal of their own yet).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "daemon/jail_request.hpp"
#include "image/spec.hpp"

namespace lj::daemon {

// On error, *field names the request field at fault.
Status apply_image_config(CreateJail& req, const image::ImageConfig& config, std::string* field);

// Makes req.user numeric ("uid:gid"), reading names from /etc/passwd and /etc/group of the
// root made of `layers` (bottom first: the topmost layer holding the file wins, as the
// union mount would show it). Errc::invalid_argument naming a user or group that is not there.
Status resolve_user(CreateJail& req, const std::vector<std::filesystem::path>& layers,
                    std::string* field);

}  // namespace lj::daemon
