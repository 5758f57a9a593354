#include "image/spec.hpp"

#include <nlohmann/json.hpp>

namespace lj::image {
namespace {

using json = nlohmann::json;

Error bad(std::string_view what, std::string_view why) {
  return Error(Errc::invalid_argument, "image", std::string(what) + ": " + std::string(why));
}

Result<json> parse_json(std::string_view text, std::string_view what) {
  if (text.size() > kMaxDocumentBytes) {
    return fail(Errc::limit, "image",
                std::string(what) + " is " + std::to_string(text.size()) +
                    " bytes, over the limit of " + std::to_string(kMaxDocumentBytes));
  }
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(bad(what, "not valid JSON"));
  if (!j.is_object()) return fail(bad(what, "not a JSON object"));
  return j;
}

// A string member, or "" when absent; a present member of another type is an error.
Result<std::string> opt_string(const json& j, const char* key, std::string_view what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string()) return fail(bad(what, std::string(key) + " is not a string"));
  return it->get<std::string>();
}

Result<std::vector<std::string>> opt_strings(const json& j, const char* key,
                                             std::string_view what) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) return fail(bad(what, std::string(key) + " is not an array"));
  for (const auto& v : *it) {
    if (!v.is_string()) return fail(bad(what, std::string(key) + " has a non-string element"));
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<Platform> parse_platform(const json& j, std::string_view what) {
  if (!j.is_object()) return fail(bad(what, "platform is not an object"));
  Platform p;
  p.os = LJ_TRY(opt_string(j, "os", what));
  p.architecture = LJ_TRY(opt_string(j, "architecture", what));
  p.variant = LJ_TRY(opt_string(j, "variant", what));
  return p;
}

Result<Descriptor> parse_descriptor(const json& j, std::string_view what) {
  if (!j.is_object()) return fail(bad(what, "descriptor is not an object"));
  Descriptor d;
  d.media_type = LJ_TRY(opt_string(j, "mediaType", what));
  auto dg = j.find("digest");
  if (dg == j.end() || !dg->is_string()) return fail(bad(what, "descriptor without a digest"));
  d.digest = LJ_TRY_CTX(std::string(what), Digest::parse(dg->get<std::string>()));
  auto sz = j.find("size");
  if (sz == j.end() || !sz->is_number_integer() || sz->get<std::int64_t>() < 0) {
    return fail(bad(what, "descriptor " + d.digest.str() + " without a valid size"));
  }
  d.size = sz->get<std::int64_t>();
  if (auto p = j.find("platform"); p != j.end()) d.platform = LJ_TRY(parse_platform(*p, what));
  if (auto a = j.find("annotations"); a != j.end() && a->is_object()) {
    for (const auto& [k, v] : a->items()) {
      if (v.is_string()) d.annotations[k] = v.get<std::string>();
    }
  }
  return d;
}

json descriptor_json(const Descriptor& d) {
  json j = {{"mediaType", d.media_type}, {"digest", d.digest.str()}, {"size", d.size}};
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  return j;
}

}  // namespace

namespace media {
bool is_layer(std::string_view t) {
  return t == kOciLayer || t == kOciLayerGzip || t == kOciLayerZstd || t == kDockerLayerGzip ||
         t == "application/vnd.docker.image.rootfs.diff.tar" ||
         // Non-distributable ("foreign") layers: deprecated in image-spec 1.1, still tars.
         t == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
         t == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}
bool is_index(std::string_view t) { return t == kOciIndex || t == kDockerList; }
bool is_manifest(std::string_view t) { return t == kOciManifest || t == kDockerManifest; }
}  // namespace media

std::string Platform::str() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

Result<DocKind> document_kind(std::string_view text, std::string_view served) {
  json j = LJ_TRY(parse_json(text, "manifest"));
  std::string mt = LJ_TRY(opt_string(j, "mediaType", "manifest"));
  if (mt.empty()) mt = std::string(served);
  if (media::is_index(mt)) return DocKind::index;
  if (media::is_manifest(mt)) return DocKind::manifest;
  if (!mt.empty() && mt != "application/json") {
    return fail(Errc::unsupported, "image", "unsupported manifest media type " + mt +
                                                " (docker schema 1 and artifacts are not images)");
  }
  if (j.contains("manifests")) return DocKind::index;
  if (j.contains("layers")) return DocKind::manifest;
  return fail(bad("manifest", "neither an index (manifests) nor a manifest (layers)"));
}

Result<Index> parse_index(std::string_view text) {
  json j = LJ_TRY(parse_json(text, "image index"));
  auto m = j.find("manifests");
  if (m == j.end() || !m->is_array()) return fail(bad("image index", "no manifests array"));
  Index idx;
  for (const auto& d : *m) idx.manifests.push_back(LJ_TRY(parse_descriptor(d, "image index")));
  return idx;
}

Result<Manifest> parse_manifest(std::string_view text) {
  json j = LJ_TRY(parse_json(text, "image manifest"));
  Manifest m;
  m.media_type = LJ_TRY(opt_string(j, "mediaType", "image manifest"));
  if (auto v = j.find("schemaVersion"); v == j.end() || *v != 2) {
    return fail(Errc::unsupported, "image", "image manifest: schemaVersion is not 2");
  }
  auto c = j.find("config");
  if (c == j.end()) return fail(bad("image manifest", "no config"));
  m.config = LJ_TRY(parse_descriptor(*c, "image manifest config"));
  auto l = j.find("layers");
  if (l == j.end() || !l->is_array()) return fail(bad("image manifest", "no layers array"));
  for (const auto& d : *l) {
    Descriptor desc = LJ_TRY(parse_descriptor(d, "image manifest layer"));
    if (!media::is_layer(desc.media_type)) {
      return fail(Errc::unsupported, "image",
                  "layer " + desc.digest.str() + " has media type \"" + desc.media_type +
                      "\", not a tar layer");
    }
    m.layers.push_back(std::move(desc));
  }
  return m;
}

Result<ImageConfig> parse_config(std::string_view text) {
  constexpr std::string_view what = "image config";
  json j = LJ_TRY(parse_json(text, what));
  ImageConfig c;
  c.platform.os = LJ_TRY(opt_string(j, "os", what));
  c.platform.architecture = LJ_TRY(opt_string(j, "architecture", what));
  c.platform.variant = LJ_TRY(opt_string(j, "variant", what));
  if (auto cfg = j.find("config"); cfg != j.end() && cfg->is_object()) {
    c.entrypoint = LJ_TRY(opt_strings(*cfg, "Entrypoint", what));
    c.cmd = LJ_TRY(opt_strings(*cfg, "Cmd", what));
    c.env = LJ_TRY(opt_strings(*cfg, "Env", what));
    c.user = LJ_TRY(opt_string(*cfg, "User", what));
    c.working_dir = LJ_TRY(opt_string(*cfg, "WorkingDir", what));
    c.stop_signal = LJ_TRY(opt_string(*cfg, "StopSignal", what));
    if (auto p = cfg->find("ExposedPorts"); p != cfg->end() && p->is_object()) {
      for (const auto& [k, v] : p->items()) c.exposed_ports.push_back(k);
    }
    if (auto l = cfg->find("Labels"); l != cfg->end() && l->is_object()) {
      for (const auto& [k, v] : l->items()) {
        if (v.is_string()) c.labels[k] = v.get<std::string>();
      }
    }
  }
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object()) return fail(bad(what, "no rootfs"));
  if (LJ_TRY(opt_string(*rootfs, "type", what)) != "layers") {
    return fail(bad(what, "rootfs.type is not \"layers\""));
  }
  auto ids = rootfs->find("diff_ids");
  if (ids == rootfs->end() || !ids->is_array()) return fail(bad(what, "no rootfs.diff_ids"));
  for (const auto& d : *ids) {
    if (!d.is_string()) return fail(bad(what, "rootfs.diff_ids has a non-string element"));
    c.diff_ids.push_back(LJ_TRY_CTX("image config rootfs.diff_ids", Digest::parse(d.get<std::string>())));
  }
  return c;
}

Result<Descriptor> select_platform(const Index& index, const Platform& want) {
  std::string offered;
  for (const auto& d : index.manifests) {
    if (!d.platform) continue;
    const Platform& p = *d.platform;
    if (p.os == want.os && p.architecture == want.architecture &&
        (p.variant.empty() || want.variant.empty() || p.variant == want.variant) &&
        media::is_manifest(d.media_type.empty() ? std::string(media::kOciManifest) : d.media_type)) {
      return d;
    }
    if (!offered.empty()) offered += ", ";
    offered += p.str();
  }
  return fail(Errc::not_found, "image",
              "the image index has no manifest for " + want.str() +
                  (offered.empty() ? " (it names no platforms)" : " (it has " + offered + ")"));
}

std::string manifest_json(const Manifest& m) {
  json layers = json::array();
  for (const auto& l : m.layers) layers.push_back(descriptor_json(l));
  json j = {{"schemaVersion", 2},
            {"mediaType", m.media_type.empty() ? std::string(media::kOciManifest) : m.media_type},
            {"config", descriptor_json(m.config)},
            {"layers", layers}};
  return j.dump();
}

}  // namespace lj::image
