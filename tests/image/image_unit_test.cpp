// Hermetic tests of lib/image: digests, documents, references, platform choice, the blob store's
// verification, and the unpacker's refusals. No root needed: nothing here makes a whiteout or a
// device node (the privileged tests do).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "image/digest.hpp"
#include "image/import.hpp"
#include "image/reference.hpp"
#include "image/spec.hpp"
#include "image/store.hpp"
#include "image/unpack.hpp"
#include "tar_builder.hpp"

namespace lj::image {
namespace {

using namespace test;

TEST(Digest, KnownValueAndStrictParse) {
  EXPECT_EQ(Digest::of("").str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_TRUE(Digest::parse(Digest::of("x").str()));
  EXPECT_FALSE(Digest::parse("sha256:abc"));
  EXPECT_FALSE(Digest::parse("sha512:" + std::string(64, 'a')));
  EXPECT_FALSE(Digest::parse("sha256:" + std::string(64, 'A')));  // one spelling per digest
  EXPECT_FALSE(Digest::parse("sha256:" + std::string(63, 'a') + "g"));
  Sha256 h;
  h.update("ab");
  h.update("c");
  EXPECT_EQ(h.finish(), Digest::of("abc"));
}

TEST(Reference, NormalizesLikeDocker) {
  EXPECT_EQ(Reference::parse("busybox")->str(), "docker.io/library/busybox:latest");
  EXPECT_EQ(Reference::parse("user/app:1.0")->str(), "docker.io/user/app:1.0");
  auto r = Reference::parse("127.0.0.1:5000/a/b:v2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->registry, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "a/b");
  EXPECT_EQ(r->tag, "v2");
  EXPECT_EQ(Reference::parse("localhost/bb")->str(), "localhost/bb:latest");
  auto d = Reference::parse("quay.io/x/y@" + Digest::of("m").str());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->tag, "");
  EXPECT_EQ(d->manifest_ref(), Digest::of("m").str());
  EXPECT_FALSE(Reference::parse("Busybox"));
  EXPECT_FALSE(Reference::parse("a//b"));
  EXPECT_FALSE(Reference::parse("a:b:c"));
  EXPECT_FALSE(Reference::parse(""));
  EXPECT_FALSE(Reference::parse("x@sha256:1234"));
}

TEST(Spec, ParsesManifestConfigIndex) {
  auto img = build_image({make_tar({file("a", "1")})}, "amd64",
                         {{"Entrypoint", {"/bin/sh"}}, {"Cmd", {"-c", "true"}}, {"Env", {"A=1"}},
                          {"User", "1000:1000"}, {"WorkingDir", "/w"},
                          {"ExposedPorts", {{"80/tcp", nlohmann::json::object()}}},
                          {"Labels", {{"k", "v"}}}, {"StopSignal", "SIGINT"}});
  auto m = parse_manifest(img.manifest);
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(*document_kind(img.manifest), DocKind::manifest);
  auto c = parse_config(img.config);
  ASSERT_TRUE(c) << c.error().what();
  EXPECT_EQ(c->entrypoint, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(c->cmd.size(), 2u);
  EXPECT_EQ(c->user, "1000:1000");
  EXPECT_EQ(c->working_dir, "/w");
  EXPECT_EQ(c->exposed_ports, std::vector<std::string>{"80/tcp"});
  EXPECT_EQ(c->labels.at("k"), "v");
  EXPECT_EQ(c->stop_signal, "SIGINT");
  EXPECT_EQ(c->diff_ids.size(), 1u);

  std::string index = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
    {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" +
                      Digest::of("arm").str() + R"(","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
    {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" +
                      Digest::of("amd").str() + R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}}]})";
  EXPECT_EQ(*document_kind(index), DocKind::index);
  auto idx = parse_index(index);
  ASSERT_TRUE(idx);
  EXPECT_EQ(select_platform(*idx, {"linux", "amd64", ""})->digest, Digest::of("amd"));
  EXPECT_EQ(select_platform(*idx, {"linux", "arm64", "v8"})->digest, Digest::of("arm"));
  auto none = select_platform(*idx, {"freebsd", "amd64", ""});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().errc(), Errc::not_found);
  EXPECT_NE(none.error().what().find("linux/arm64/v8"), std::string::npos) << none.error().what();
}

TEST(Spec, RefusesBadDocuments) {
  EXPECT_EQ(parse_manifest(std::string(kMaxDocumentBytes + 1, ' ')).error().errc(), Errc::limit);
  EXPECT_FALSE(parse_manifest("[]"));
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion":2,"config":{"digest":"sha256:x","size":1},"layers":[]})"));
  EXPECT_EQ(parse_manifest(R"({"schemaVersion":1})").error().errc(), Errc::unsupported);
  EXPECT_FALSE(parse_config(R"({"os":"linux","rootfs":{"type":"layers","diff_ids":["nope"]}})"));
  EXPECT_EQ(document_kind(R"({"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"})")
                .error().errc(), Errc::unsupported);
}

TEST(Spec, HostPlatform) {
  auto p = host_platform();
  EXPECT_EQ(p.os, "linux");
  EXPECT_FALSE(p.architecture.empty());
  EXPECT_NE(p.architecture, "x86_64");  // GOARCH names
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(overlay::Root(tmp.path() / "root"));
    ASSERT_TRUE(s) << s.error().what();
    store.emplace(std::move(*s));
  }
  // Nothing under blobs/ and layers/, and no staging directory left.
  void expect_nothing_stored() {
    EXPECT_TRUE(listing(store->dir() / "blobs/sha256").empty());
    EXPECT_TRUE(listing(store->dir() / "layers/sha256").empty());
    EXPECT_TRUE(listing(tmp.path() / "root/.staging").empty());
  }
  TempDir tmp;
  std::optional<Store> store;
};

TEST_F(StoreTest, PutVerifiesDigestAndSize) {
  auto d = store->put("hello");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, Digest::of("hello"));
  EXPECT_EQ(slurp(store->blob_path(*d)), "hello");
  EXPECT_EQ(*store->read_document(*d), "hello");
}

TEST_F(StoreTest, BadDigestLeavesNothing) {
  auto r = store->put("evil", Digest::of("good"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
  EXPECT_NE(r.error().what().find("mismatch"), std::string::npos) << r.error().what();
  expect_nothing_stored();
}

TEST_F(StoreTest, TruncatedBlobLeavesNothing) {
  {
    auto w = store->writer(Digest::of("0123456789"), 10);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write("01234", 5));
    auto r = w->commit();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().what().find("truncated: 5 of 10"), std::string::npos) << r.error().what();
  }
  expect_nothing_stored();
}

TEST_F(StoreTest, OversizedBlobsRefused) {
  // Declared over the limit: refused before a byte is read.
  auto w = store->writer(std::nullopt, kMaxDocumentBytes + 1, kMaxDocumentBytes);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().errc(), Errc::limit);
  {
    // Sent over the declared size.
    auto w2 = store->writer(std::nullopt, 3);
    ASSERT_TRUE(w2);
    auto s = w2->write("abcd", 4);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().errc(), Errc::limit);
  }
  expect_nothing_stored();
}

TEST_F(StoreTest, Refs) {
  auto d = Digest::of("m");
  ASSERT_TRUE(store->set_ref("docker.io/library/a:1", d));
  ASSERT_TRUE(store->set_ref("docker.io/library/b:1", d));
  EXPECT_EQ(*store->resolve_ref("docker.io/library/a:1"), d);
  EXPECT_EQ(store->refs()->size(), 2u);
  ASSERT_TRUE(store->remove_ref("docker.io/library/a:1"));
  EXPECT_EQ(store->resolve_ref("docker.io/library/a:1").error().errc(), Errc::not_found);
  EXPECT_EQ(store->remove_ref("docker.io/library/a:1").error().errc(), Errc::not_found);
}

// Unpacks one layer tar into a fresh directory.
Result<UnpackResult> unpack_tar(const fs::path& work, const std::string& tar, const UnpackPolicy& p = {}) {
  write_file(work / "layer.tar", tar);
  fs::create_directories(work / "out");
  return unpack_layer(work / "layer.tar", work / "out", p);
}

TEST(Unpack, KeepsTypesModesContentAndComputesDiffId) {
  TempDir t;
  std::string tar = make_tar({dir("etc", 0755), file("etc/hosts", "127.0.0.1 x\n", 0644),
                              file("bin/tool", "#!/bin/sh\n", 04755), sym("bin/sh", "/bin/busybox"),
                              hard("bin/tool2", "bin/tool"), dir("ro", 0555), file("ro/f", "r", 0444)},
                             /*gzip=*/true);
  auto r = unpack_tar(t.path(), tar);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->diff_id, diff_id_of(tar));
  const fs::path out = t.path() / "out";
  EXPECT_EQ(slurp(out / "etc/hosts"), "127.0.0.1 x\n");
  struct stat st {};
  ASSERT_EQ(::lstat((out / "bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_nlink, 2u);  // bin/tool2 is a hard link
  EXPECT_EQ(st.st_mtime, 1700000000);
  EXPECT_EQ(fs::read_symlink(out / "bin/sh"), "/bin/busybox");
  ASSERT_EQ(::lstat((out / "ro").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);  // applied last: ro/f could still be written
  EXPECT_EQ(slurp(out / "ro/f"), "r");
  ASSERT_EQ(::lstat((out / "bin").c_str(), &st), 0);  // implied parent
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST(Unpack, RefusesTraversal) {
  struct Case {
    const char* name;
    std::vector<Entry> entries;
  };
  std::vector<Case> cases = {
      {"dotdot", {file("../escaped", "x")}},
      {"dotdot inside", {dir("a"), file("a/../../escaped", "x")}},
      {"absolute", {file("/escaped", "x")}},
      {"through a symlink to outside", {sym("link", ".."), file("link/escaped", "x")}},
      {"through an absolute symlink", {sym("link", "/tmp"), file("link/escaped", "x")}},
      {"through a symlink inside", {dir("d"), sym("link", "d"), file("link/escaped", "x")}},
      {"hard link out", {hard("escaped", "../outside")}},
      {"hard link through symlink", {sym("link", ".."), hard("escaped", "link/outside")}},
      {"hard link to missing", {hard("escaped", "nothing")}},
      {"device node", {chr("dev/mem", 1, 1)}},
  };
  for (const auto& c : cases) {
    TempDir t;
    write_file(t.path() / "outside", "keep");
    auto r = unpack_tar(t.path(), make_tar(c.entries));
    ASSERT_FALSE(r) << c.name;
    EXPECT_TRUE(r.error().errc() == Errc::invalid_argument ||
                r.error().errc() == Errc::permission_denied)
        << c.name << ": " << r.error().what();
    EXPECT_FALSE(fs::exists(t.path() / "escaped")) << c.name;
    EXPECT_FALSE(fs::exists(fs::temp_directory_path() / "escaped")) << c.name;
    EXPECT_EQ(slurp(t.path() / "outside"), "keep") << c.name;
    EXPECT_FALSE(fs::exists(t.path() / "out/d/escaped")) << c.name;
  }
}

TEST(Unpack, SharesTheFilesOfTheTreeItWasExportedFrom) {
  TempDir t;
  auto mine = [](Entry e) {
    e.uid = ::geteuid();
    e.gid = ::getegid();
    return e;
  };
  std::string tar = make_tar({mine(file("same", "abc")), mine(file("other", "xyz")),
                              mine(dir("bin")), mine(file("bin/tool", "#!/bin/sh\n", 0755)),
                              hard("bin/tool2", "bin/tool")});
  // The tree the layer was made of: "other" differs (its mtime), the rest is the same.
  const fs::path share = t.path() / "share";
  fs::create_directories(share / "bin");
  write_file(share / "same", "abc");
  write_file(share / "other", "xyz");
  write_file(share / "bin/tool", "#!/bin/sh\n");
  ASSERT_EQ(::chmod((share / "same").c_str(), 0644), 0);
  ASSERT_EQ(::chmod((share / "bin/tool").c_str(), 0755), 0);
  struct timespec when[2] = {{1700000000, 0}, {1700000000, 0}};
  struct timespec other[2] = {{1600000000, 0}, {1600000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (share / "same").c_str(), when, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, (share / "bin/tool").c_str(), when, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, (share / "other").c_str(), other, 0), 0);
  write_file(t.path() / "layer.tar", tar);
  fs::create_directories(t.path() / "out");
  auto r = unpack_layer(t.path() / "layer.tar", t.path() / "out", {}, share);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->diff_id, diff_id_of(tar));  // the skipped data still hashed
  EXPECT_EQ(r->linked, 2u);
  auto ino = [](const fs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 ? st.st_ino : 0;
  };
  const fs::path out = t.path() / "out";
  EXPECT_EQ(ino(out / "same"), ino(share / "same"));
  EXPECT_EQ(ino(out / "bin/tool"), ino(share / "bin/tool"));
  EXPECT_EQ(ino(out / "bin/tool2"), ino(share / "bin/tool"));  // the layer's own hard link
  EXPECT_NE(ino(out / "other"), ino(share / "other"));         // written: not the same file
  EXPECT_EQ(slurp(out / "other"), "xyz");
  EXPECT_EQ(slurp(out / "same"), "abc");
}

TEST(Unpack, ReservedXattrsDropped) {
  TempDir t;
  Entry f = file("f", "x");
  f.xattrs["trusted.overlay.redirect"] = "/etc";
  f.xattrs["user.overlay.opaque"] = "y";
  auto r = unpack_tar(t.path(), make_tar({f}));
  ASSERT_TRUE(r) << r.error().what();
  char buf[64];
  EXPECT_LT(::getxattr((t.path() / "out/f").c_str(), "trusted.overlay.redirect", buf, sizeof buf), 0);
  EXPECT_LT(::getxattr((t.path() / "out/f").c_str(), "user.overlay.opaque", buf, sizeof buf), 0);
}

TEST(Unpack, TruncatedLayerIsAnError) {
  TempDir t;
  std::string tar = make_tar({file("big", std::string(100000, 'x'))});
  auto r = unpack_tar(t.path(), tar.substr(0, 50000));
  ASSERT_FALSE(r);
}

TEST_F(StoreTest, DiffIdMismatchLeavesNoLayer) {
  std::string tar = make_tar({file("a", "1")});
  auto blob = store->put(tar);
  ASSERT_TRUE(blob);
  auto r = store->ensure_layer(*blob, Digest::of("another"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("diff_id"), std::string::npos) << r.error().what();
  EXPECT_TRUE(listing(store->dir() / "layers/sha256").empty());
  EXPECT_TRUE(listing(tmp.path() / "root/.staging").empty());
}

TEST_F(StoreTest, ImportsLayoutAndSharesLayers) {
  std::string base = make_tar({dir("etc"), file("etc/base", "b")}, true);
  auto one = build_image({base}, host_platform().architecture);
  auto two = build_image({base, make_tar({file("etc/top", "t")})}, host_platform().architecture,
                         {{"Cmd", {"sh"}}});
  write_layout(tmp.path() / "one", one, "localhost/one:1");
  write_layout(tmp.path() / "two", two);

  auto r1 = import_images(*store, tmp.path() / "one");
  ASSERT_TRUE(r1) << r1.error().what();
  ASSERT_EQ(r1->size(), 1u);
  EXPECT_EQ((*r1)[0].ref, "localhost/one:1");
  EXPECT_EQ((*r1)[0].manifest, one.manifest_digest);

  // No name in the layout, none given: imported, unnamed. Then named.
  ImportOptions opt;
  opt.name = "two";
  auto r2 = import_images(*store, tmp.path() / "two", opt);
  ASSERT_TRUE(r2) << r2.error().what();
  EXPECT_EQ((*r2)[0].ref, "docker.io/library/two:latest");
  // Three layer references, two distinct layers: the base is stored once.
  EXPECT_EQ(std::distance(fs::directory_iterator(store->dir() / "layers/sha256"), fs::directory_iterator()), 2);
  auto img = store->image(two.manifest_digest);
  ASSERT_TRUE(img) << img.error().what();
  ASSERT_EQ(img->layer_dirs.size(), 2u);
  EXPECT_EQ(img->layer_dirs[0], store->image(one.manifest_digest)->layer_dirs[0]);  // shared
  EXPECT_EQ(slurp(img->layer_dirs[1] / "etc/top"), "t");
  EXPECT_EQ(img->config.cmd, std::vector<std::string>{"sh"});
}

TEST_F(StoreTest, LayoutWithBadBlobNamesNothing) {
  auto img = build_image({make_tar({file("a", "1")})}, host_platform().architecture);
  write_layout(tmp.path() / "l", img, "localhost/bad:1");
  // The layer blob's content no longer matches its name.
  write_file(tmp.path() / "l/blobs/sha256" / Digest::of(img.layer_blobs[0]).hex(), "tampered");
  auto r = import_images(*store, tmp.path() / "l");
  ASSERT_FALSE(r);
  EXPECT_EQ(store->refs()->size(), 0u);
  EXPECT_TRUE(listing(store->dir() / "layers/sha256").empty());
  EXPECT_TRUE(listing(tmp.path() / "root/.staging").empty());
}

TEST_F(StoreTest, WrongPlatformRefused) {
  auto img = build_image({make_tar({file("a", "1")})}, "s390x");
  write_layout(tmp.path() / "l", img, "localhost/s390x:1");
  auto r = import_images(*store, tmp.path() / "l");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::unsupported);
  EXPECT_NE(r.error().what().find("linux/s390x"), std::string::npos) << r.error().what();
}

// Issue 16's first report: a `podman save --format oci-archive` file given to a world import.
// Callers that take trees ask what a source is before making anything; a root filesystem's tar
// is told apart by its first entries, an image by the names image archives hold.
TEST(ImageSourceKind, TellsImagesFromRootFilesystems) {
  TempDir tmp;
  auto img = build_image({make_tar({file("a", "1")})}, host_platform().architecture);
  const std::string hex = Digest::of(img.config).hex();
  std::vector<Entry> oci = {dir("blobs/"), dir("blobs/sha256/"),
                            file("blobs/sha256/" + hex, img.config), file("index.json", "{}"),
                            file("oci-layout", "{}")};
  std::vector<Entry> docker = {file(hex + ".tar", "layer"), file(hex + ".json", "{}"),
                               sym(hex + "/layer.tar", "../" + hex + ".tar"),
                               file(hex + "/VERSION", "1.0"), file("manifest.json", "[]"),
                               file("repositories", "{}")};
  std::vector<Entry> rootfs = {dir("./"), dir("./bin"), file("./bin/sh", "x", 0755),
                               file("./manifest.json", "[]")};
  write_file(tmp.path() / "oci.tar", make_tar(oci));
  write_file(tmp.path() / "docker.tar", make_tar(docker));
  write_file(tmp.path() / "docker.tar.gz", make_tar(docker, true));
  write_file(tmp.path() / "rootfs.tar", make_tar(rootfs));
  write_file(tmp.path() / "rootfs.tar.gz", make_tar(rootfs, true));
  write_layout(tmp.path() / "layout", img);
  fs::create_directories(tmp.path() / "tree/bin");

  auto kind = [&](const char* f) { return image_source_kind(tmp.path() / f); };
  EXPECT_EQ(kind("oci.tar").value_or("?"), "an OCI archive");
  EXPECT_EQ(kind("docker.tar").value_or("?"), "a docker archive");
  EXPECT_EQ(kind("docker.tar.gz").value_or("?"), "an image archive");
  EXPECT_EQ(kind("layout").value_or("?"), "an OCI image layout");
  for (const char* f : {"rootfs.tar", "rootfs.tar.gz", "tree"}) {
    auto r = kind(f);
    ASSERT_FALSE(r) << f;
    EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
    EXPECT_NE(r.error().what().find("world import"), std::string::npos) << r.error().what();
  }
  EXPECT_NE(kind("rootfs.tar").error().what().find("holds bin,"), std::string::npos)
      << kind("rootfs.tar").error().what();
}

// `ljctl load rootfs.tar` by mistake: refused before any of its files becomes a blob.
TEST_F(StoreTest, LoadOfARootFilesystemStoresNothing) {
  write_file(tmp.path() / "rootfs.tar",
             make_tar({dir("bin"), file("bin/sh", std::string(4096, 'x'), 0755),
                       file("etc/passwd", "root")}));
  auto r = import_images(*store, tmp.path() / "rootfs.tar");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("not an image"), std::string::npos) << r.error().what();
  expect_nothing_stored();
}

}  // namespace
}  // namespace lj::image
