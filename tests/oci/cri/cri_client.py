#!/usr/bin/env python3
"""A minimal CRI client (what crictl does, for the calls ljoci's CRI test makes), and the OCI image
archive that test imports. Debian has no cri-tools; python3-grpcio and protoc are enough.

  cri_client.py call SOCKET Service/Method [REQUEST_JSON]
      One unary call of runtime.v1 (runtime_v1_subset.proto, compiled with protoc on first use into
      $CRI_CLIENT_GEN or a directory beside this file's copy in /tmp). The request is the message's
      proto3 JSON ({"config": {"metadata": {"name": "p"}}}; "-": read from stdin); the answer is
      printed the same way, all
      fields included. A gRPC error: its code and details on stderr, exit 1.
  cri_client.py stream URL [--stdin DATA] [--stdin-when streams|output] [--resize WxH[,WxH...]]
      What kubectl exec and attach do with the URL that CRI Exec or Attach answers: a WebSocket
      (RFC 6455) on the runtime's streaming server, subprotocol v4.channel.k8s.io. Its output is
      written to stdout and stderr as it comes; DATA (if given) is sent as stdin once the server
      has sent its first (empty) message ("streams", the default), or once output has come
      ("output": an attach's stream is then among the container's output's writers, so the
      answer to DATA reaches it). Each WxH (columns x rows) is a terminal resize on the resize
      channel, as kubectl -t sends its window's size: the first once the streams are up, each
      next once the output has shown the one before as `stty size` prints it ("ROWS COLUMNS").
      Exits with the remote command's exit code from the error channel's status (0: Success),
      125 with the reason on stderr when the stream fails or ends without a status.
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


# The streaming server's WebSocket protocol (k8s.io/apiserver wsstream, what containerd 1.6's CRI
# streaming server and a kubelet's speak): every binary message starts with its channel's byte.
# "v4." makes the error channel's message a JSON metav1.Status, whose Failure names the exit code
# (details.causes[{"reason": "ExitCode", "message": "3"}]); the resize channel's messages are JSON
# remotecommand.TerminalSize objects, {"Width": columns, "Height": rows}, one after another.
WS_PROTOCOL = "v4.channel.k8s.io"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
OP_CONT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x2, 0x8, 0x9, 0xA


def ws_send(sock, op, data):
    """One final frame, masked as a client's must be."""
    import struct
    mask = os.urandom(4)
    n = len(data)
    if n < 126:
        head = bytes([0x80 | op, 0x80 | n])
    elif n < 1 << 16:
        head = bytes([0x80 | op, 0x80 | 126]) + struct.pack(">H", n)
    else:
        head = bytes([0x80 | op, 0x80 | 127]) + struct.pack(">Q", n)
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def ws_read(f):
    """One message: (opcode, payload), its fragments joined; (None, b"") at the stream's end."""
    import struct
    op, payload = None, b""
    while True:
        head = f.read(2)
        if len(head) < 2:
            return None, b""
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack(">H", f.read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", f.read(8))[0]
        mask = f.read(4) if head[1] & 0x80 else None
        data = f.read(n)
        if mask:
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        if head[0] & 0x0F != OP_CONT:
            op = head[0] & 0x0F
        payload += data
        if head[0] & 0x80:
            return op, payload


def stream(url, stdin, on_output, resizes):
    import base64
    import socket
    import urllib.parse

    u = urllib.parse.urlsplit(url)
    if u.scheme != "http":
        print("stream: only http URLs (enable_tls_streaming off): " + url, file=sys.stderr)
        return 125
    sock = socket.create_connection((u.hostname, u.port or 80), timeout=60)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Protocol: %s\r\n\r\n"
                  % (u.path or "/", u.netloc, key, WS_PROTOCOL)).encode())
    f = sock.makefile("rb")
    answer, headers = f.readline().decode(errors="replace").strip(), {}
    for line in iter(f.readline, b""):
        if not line.strip():
            break
        name, _, value = line.decode(errors="replace").partition(":")
        headers[name.strip().lower()] = value.strip()
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    if (answer.split(" ")[1:2] != ["101"] or headers.get("sec-websocket-accept") != accept
            or headers.get("sec-websocket-protocol") != WS_PROTOCOL):
        print("stream: no WebSocket upgrade: %s %s" % (answer, headers), file=sys.stderr)
        return 125
    status, shown = None, b""  # shown: the output since the last resize
    awaited = None  # the last resize's size as stty size prints it
    try:
        while True:
            op, data = ws_read(f)
            if op is None or op == OP_CLOSE:
                if op == OP_CLOSE:
                    ws_send(sock, OP_CLOSE, data[:2])
                break
            if op == OP_PING:
                ws_send(sock, OP_PONG, data)
                continue
            if op != OP_BINARY or not data:
                continue
            channel, data = data[0], data[1:]
            if channel in (STDOUT, STDERR):
                out = sys.stdout if channel == STDOUT else sys.stderr
                out.buffer.write(data)
                out.flush()
            elif channel == ERROR and data:
                status = json.loads(data)
            # The first message (empty) says the streams are there.
            output = channel in (STDOUT, STDERR) and data
            shown += data if output else b""
            if resizes and (awaited is None or awaited in shown):
                width, height = resizes.pop(0)
                size = json.dumps({"Width": width, "Height": height}).encode()
                ws_send(sock, OP_BINARY, bytes([RESIZE]) + size)
                awaited, shown = b"%d %d" % (height, width), b""
            if stdin is not None and (not on_output or output):
                ws_send(sock, OP_BINARY, bytes([STDIN]) + stdin.encode())
                stdin = None
    except (OSError, ValueError) as e:
        print("stream: %s" % e, file=sys.stderr)
        return 125
    finally:
        sock.close()
    if status is None:
        print("stream: ended without a status", file=sys.stderr)
        return 125
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes", []):
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message", "125"))
    print("stream: %s" % status.get("message", status), file=sys.stderr)
    return 125


def terminal_sizes(text):
    """"80x24,100x40" -> [(80, 24), (100, 40)]; "" -> []; None when malformed."""
    sizes = []
    for item in filter(None, text.split(",")):
        width, _, height = item.partition("x")
        if not (width.isdigit() and height.isdigit()):
            return None
        sizes.append((int(width), int(height)))
    return sizes


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
    if len(argv) >= 3 and argv[1] == "stream":
        opts = dict(zip(argv[3::2], argv[4::2]))
        when = opts.get("--stdin-when", "streams")
        resizes = terminal_sizes(opts.get("--resize", ""))
        known = {"--stdin", "--stdin-when", "--resize"}
        if (len(argv) % 2 == 0 or set(opts) - known or when not in ("streams", "output")
                or resizes is None):
            print(__doc__, file=sys.stderr)
            return 2
        return stream(argv[2], opts.get("--stdin"), when == "output", resizes)
    if len(argv) >= 5 and argv[1] == "image":
        return image(argv[2], argv[3], argv[4], argv[5:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
