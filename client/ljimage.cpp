// ljimage: the daemon-less image tool (lib/image on the root's image store), as ljbuild is for
// Jailfiles. The root is $LIGHTJAIL_ROOT, /usr/local/lj when empty.
//
//   ljimage pull REF [--insecure REGISTRY]... [--ca-file F] [--auth-file F] [--allow-devices]
//   ljimage push REF DEST [--insecure ...] [--ca-file F] [--auth-file F]
//   ljimage load FILE|DIR [--name REF]     OCI layout, OCI archive or docker archive
//   ljimage images                         REFERENCE  MANIFEST  LAYERS
//   ljimage inspect REF                    the manifest digest, config and layer directories (JSON)
//   ljimage tag REF NEWREF
//   ljimage rm REF                         the name only; blobs and layers stay for prune
//
// Progress goes to stderr, one line per layer event; results to stdout. Exit 0 on success,
// 1 with the error on stderr otherwise.
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "image/import.hpp"
#include "overlay/catalog.hpp"
#include "image/reference.hpp"
#include "image/registry.hpp"
#include "image/store.hpp"

namespace {

using namespace lj;
using namespace lj::image;

int report(const Error& e) {
  std::fprintf(stderr, "ljimage: %s\n", e.what().c_str());
  return 1;
}

void show_progress(const LayerProgress& p) {
  std::string which = p.index == SIZE_MAX ? "config" : "layer " + std::to_string(p.index + 1) + "/" + std::to_string(p.count);
  std::fprintf(stderr, "%s %s %s %llu/%llu\n", which.c_str(), p.digest.hex().substr(0, 12).c_str(),
               p.state.c_str(), static_cast<unsigned long long>(p.done),
               static_cast<unsigned long long>(p.total));
}

// A name, or a manifest digest ("sha256:..."), to the stored manifest.
Result<Digest> find(const Store& s, const std::string& text) {
  if (text.rfind("sha256:", 0) == 0) return Digest::parse(text);
  auto ref = LJ_TRY(Reference::parse(text));
  return s.resolve_ref(ref.str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ljimage: OCI images in the lj root (daemon-less)"};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off");
  RegistryOptions ropt;
  std::vector<std::string> insecure;
  auto registry_flags = [&](CLI::App* c) {
    c->add_option("--insecure", insecure, "a registry (host[:port]) that may be reached over plain HTTP");
    c->add_option("--ca-file", ropt.ca_file, "extra CA certificates (PEM) to trust");
    c->add_option("--auth-file", ropt.auth_file, "docker-style auths file");
  };
  std::string ref, dest, file, name;
  bool allow_devices = false;
  auto* pull = app.add_subcommand("pull", "pull an image from a registry");
  pull->add_option("REF", ref)->required();
  pull->add_flag("--allow-devices", allow_devices, "unpack device nodes instead of refusing them");
  registry_flags(pull);
  auto* push = app.add_subcommand("push", "push a stored image to a registry");
  push->add_option("REF", ref)->required();
  push->add_option("DEST", dest)->required();
  registry_flags(push);
  auto* load = app.add_subcommand("load", "import an OCI layout, OCI archive or docker archive");
  load->add_option("SOURCE", file)->required();
  load->add_option("--name", name, "the name to give the image");
  load->add_flag("--allow-devices", allow_devices, "unpack device nodes instead of refusing them");
  auto* images = app.add_subcommand("images", "list named images");
  auto* inspect = app.add_subcommand("inspect", "show an image");
  inspect->add_option("REF", ref)->required();
  auto* tag = app.add_subcommand("tag", "give an image another name");
  tag->add_option("REF", ref)->required();
  tag->add_option("NEWREF", dest)->required();
  auto* rm = app.add_subcommand("rm", "remove an image's name");
  rm->add_option("REF", ref)->required();
  CLI11_PARSE(app, argc, argv);

  if (!configure_logging(log_level)) {
    std::fprintf(stderr, "ljimage: unknown log level %s\n", log_level.c_str());
    return 2;
  }
  ropt.insecure.insert(insecure.begin(), insecure.end());
  // What a killed pull or load left in .staging (their locks died with them), as ljd does at start.
  if (pull->parsed() || load->parsed()) {
    if (auto c = overlay::Catalog(overlay::Root::from_env()).clean_staging(); !c) return report(c.error());
  }
  ropt.unpack.allow_devices = allow_devices;
  auto store = Store::open(overlay::Root::from_env());
  if (!store) return report(store.error());

  if (pull->parsed()) {
    auto r = Reference::parse(ref);
    if (!r) return report(r.error());
    auto res = image::pull(*store, *r, ropt, show_progress);
    if (!res) return report(res.error());
    std::printf("%s %s (%zu layers, %zu fetched, %llu bytes)\n", res->ref.c_str(),
                res->manifest.str().c_str(), res->layers, res->fetched,
                static_cast<unsigned long long>(res->bytes_fetched));
  } else if (push->parsed()) {
    auto m = find(*store, ref);
    if (!m) return report(m.error());
    auto d = Reference::parse(dest);
    if (!d) return report(d.error());
    if (auto s = image::push(*store, *m, *d, ropt, show_progress); !s) return report(s.error());
    std::printf("%s %s\n", d->str().c_str(), m->str().c_str());
  } else if (load->parsed()) {
    ImportOptions opt;
    if (!name.empty()) opt.name = name;
    opt.unpack.allow_devices = allow_devices;
    auto res = import_images(*store, file, opt);
    if (!res) return report(res.error());
    for (const auto& im : *res) {
      std::printf("%s %s\n", im.ref.empty() ? "<unnamed>" : im.ref.c_str(), im.manifest.str().c_str());
    }
  } else if (images->parsed()) {
    auto refs = store->refs();
    if (!refs) return report(refs.error());
    std::printf("%-50s %-19s %s\n", "REFERENCE", "MANIFEST", "LAYERS");
    for (const auto& [r, d] : *refs) {
      auto m = store->read_manifest(d);
      std::printf("%-50s %-19s %s\n", r.c_str(), ("sha256:" + d.hex().substr(0, 12)).c_str(),
                  m ? std::to_string(m->layers.size()).c_str() : "?");
    }
  } else if (inspect->parsed()) {
    auto m = find(*store, ref);
    if (!m) return report(m.error());
    auto img = store->image(*m);
    if (!img) return report(img.error());
    nlohmann::json j = {{"manifest", img->manifest_digest.str()},
                        {"config", img->manifest.config.digest.str()},
                        {"platform", img->config.platform.str()},
                        {"entrypoint", img->config.entrypoint},
                        {"cmd", img->config.cmd},
                        {"env", img->config.env},
                        {"user", img->config.user},
                        {"working_dir", img->config.working_dir},
                        {"labels", img->config.labels}};
    for (std::size_t i = 0; i < img->layer_dirs.size(); ++i) {
      j["layers"].push_back({{"diff_id", img->diff_ids[i].str()}, {"dir", img->layer_dirs[i].string()}});
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else if (tag->parsed()) {
    auto m = find(*store, ref);
    if (!m) return report(m.error());
    auto d = Reference::parse(dest);
    if (!d) return report(d.error());
    if (auto s = store->set_ref(d->str(), *m); !s) return report(s.error());
  } else if (rm->parsed()) {
    auto r = Reference::parse(ref);
    if (!r) return report(r.error());
    if (auto s = store->remove_ref(r->str()); !s) return report(s.error());
  }
  return 0;
}
