"""HTTP/1.1 to ljd over its UNIX socket, for the bench scripts (http.client on an AF_UNIX socket)."""
import http.client
import socket


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("ljd")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def wait_ready(sock, tries=100):
    """Until ljd answers GET /v1/info on sock (tries x 0.1 s)."""
    import os
    import time
    for _ in range(tries):
        if os.path.exists(sock):
            try:
                probe = UnixHTTP(sock)
                probe.request("GET", "/v1/info")
                if probe.getresponse().status == 200:
                    return
            except OSError:
                pass
        time.sleep(0.1)


def caller(sock):
    """call(method, path, body=None) -> (status, body bytes) on one kept-alive connection."""
    import json
    conn = UnixHTTP(sock)

    def call(method, path, body=None):
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()
    return call
