#!/usr/bin/env python3
"""A minimal CRI client (what crictl does, for the calls ljoci's CRI test makes), and the OCI image
archive that test imports. Debian has no cri-tools; python3-grpcio and protoc are enough.

  cri_client.py call SOCKET Service/Method [REQUEST_JSON]
      One unary call of runtime.v1 (runtime_v1_subset.proto, compiled with protoc on first use into
      $CRI_CLIENT_GEN or a directory beside this file's copy in /tmp). The request is the message's
      proto3 JSON ({"config": {"metadata": {"name": "p"}}}; "-": read from stdin); the answer is
      printed the same way, all
      fields included. A gRPC error: its code and details on stderr, exit 1.
  cri_client.py image ROOTFS OUT.tar NAME [CMD...]
      An OCI image layout archive (one uncompressed layer: ROOTFS as it is; the config's Cmd) that
      `ctr images import` takes, named NAME.
  cri_client.py check
      Exit 0 when grpc, protobuf and protoc are all there, else print what is missing, exit 77.

Exit 2 on bad usage.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = "runtime_v1_subset.proto"


def missing():
    why = []
    try:
        import grpc  # noqa: F401
    except ImportError:
        why.append("python3-grpcio")
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        why.append("python3-protobuf")
    if shutil.which("protoc") is None:
        why.append("protobuf-compiler (protoc)")
    return why


def messages():
    """The compiled module of PROTO: protoc once per proto content."""
    src = os.path.join(HERE, PROTO)
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    gen = os.environ.get("CRI_CLIENT_GEN") or os.path.join(
        tempfile.gettempdir(), "lj-cri-client-" + digest)
    module = os.path.join(gen, PROTO.replace(".proto", "_pb2.py"))
    if not os.path.exists(module):
        os.makedirs(gen, exist_ok=True)
        # Into a private directory, then renamed: two clients compiling at once never import half.
        tmp = tempfile.mkdtemp(dir=gen)
        subprocess.run(["protoc", "-I", HERE, "--python_out=" + tmp, src], check=True)
        os.replace(os.path.join(tmp, os.path.basename(module)), module)
        os.rmdir(tmp)
    sys.path.insert(0, gen)
    import runtime_v1_subset_pb2 as pb
    return pb


def call(socket, method, request_json):
    import grpc
    from google.protobuf import json_format

    pb = messages()
    service, name = method.split("/")
    desc = pb.DESCRIPTOR.services_by_name[service].methods_by_name[name]
    req_t = getattr(pb, desc.input_type.name)
    resp_t = getattr(pb, desc.output_type.name)
    if request_json == "-":
        request_json = sys.stdin.read()
    request = json_format.Parse(request_json or "{}", req_t())
    with grpc.insecure_channel("unix://" + socket) as ch:
        stub = ch.unary_unary("/runtime.v1.%s/%s" % (service, name),
                              request_serializer=req_t.SerializeToString,
                              response_deserializer=resp_t.FromString)
        try:
            resp = stub(request, timeout=120)
        except grpc.RpcError as e:
            print("%s: %s" % (e.code().name, e.details()), file=sys.stderr)
            return 1
    print(json_format.MessageToJson(resp, including_default_value_fields=True,
                                    preserving_proto_field_name=True))
    return 0


def blob(tar, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo("blobs/sha256/" + digest[7:])
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return {"digest": digest, "size": len(data)}


def image(rootfs, out, name, cmd):
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        for entry in sorted(os.listdir(rootfs)):
            t.add(os.path.join(rootfs, entry), arcname=entry)
    layer = layer.getvalue()
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"], "Cmd": cmd or ["sh"]},
              "rootfs": {"type": "layers",
                         "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}
    with tarfile.open(out, "w") as t:
        lay = dict(blob(t, layer), mediaType="application/vnd.oci.image.layer.v1.tar")
        cfg = dict(blob(t, json.dumps(config).encode()),
                   mediaType="application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cfg, "layers": [lay]}
        man = dict(blob(t, json.dumps(manifest).encode()),
                   mediaType="application/vnd.oci.image.manifest.v1+json",
                   annotations={"io.containerd.image.name": name,
                                "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]})
        for path, doc in (("oci-layout", {"imageLayoutVersion": "1.0.0"}),
                          ("index.json", {"schemaVersion": 2, "manifests": [man]})):
            data = json.dumps(doc).encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "check":
        why = missing()
        if why:
            print("missing: " + ", ".join(why))
            return 77
        return 0
    if len(argv) in (4, 5) and argv[1] == "call":
        return call(argv[2], argv[3], argv[4] if len(argv) == 5 else "")
    if len(argv) >= 5 and argv[1] == "image":
        return image(argv[2], argv[3], argv[4], argv[5:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
