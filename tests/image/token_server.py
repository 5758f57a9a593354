#!/usr/bin/env python3
"""A minimal token server for docker-registry's `auth: token` (distribution's token spec), for
tests only: GET /token?service=S&scope=... with HTTP Basic credentials checked against an
htpasswd file (`htpasswd -vb`, so bcrypt entries work), answered with an RS256 JWT whose x5c
header carries the signing certificate (the registry trusts it through rootcertbundle). Every
request is logged to stdout as `token user=U scope=S status=N`.

usage: token_server.py PORT HTPASSWD KEY.pem CERT.pem ISSUER
"""
import base64, json, subprocess, sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

port, htpasswd, key, cert, issuer = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True,
                     capture_output=True).stdout


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(payload):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing.encode(),
                         check=True, capture_output=True).stdout
    return signing + "." + b64url(sig)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, status, body, user, scope):
        print(f"token user={user} scope={scope} status={status}", flush=True)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        scope = " ".join(q.get("scope", []))
        auth = self.headers.get("Authorization", "")
        user = "-"
        if not auth.startswith("Basic "):
            return self.answer(401, {"details": "credentials required"}, user, scope)
        user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        ok = subprocess.run(["htpasswd", "-vb", htpasswd, user, password],
                            capture_output=True).returncode == 0
        if not ok:
            return self.answer(401, {"details": "bad credentials"}, user, scope)
        access = []
        for s in q.get("scope", []):
            kind, name, actions = s.split(":", 2) if s.count(":") >= 2 else (s, "", "")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        token = sign({"iss": issuer, "sub": user, "aud": q.get("service", [""])[0],
                      "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(now) + user,
                      "access": access})
        self.answer(200, {"token": token, "expires_in": 300}, user, scope)


HTTPServer(("127.0.0.1", port), Handler).serve_forever()
