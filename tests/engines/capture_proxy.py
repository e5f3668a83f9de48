"""A recording reverse proxy for the engine tests: engines talk to lakegate through it, and every
exchange (method, path, status, request and response bodies, a hash of the Authorization header) is appended
to a JSON-lines file, so a failure can be read as the REST traffic the engine saw.

  python capture_proxy.py LISTEN_PORT UPSTREAM_URL OUT_FILE

Prints "ready" on stdout once listening. Bodies are kept up to 256 KiB each.

Diagnosis only: with LAKEGATE_ENGINES_EMULATE=nosuchtable the proxy answers a loadTable in a
missing namespace (404 NoSuchNamespaceException on GET …/namespaces/{ns}/tables/{t}) with
NoSuchTableException, as the fix proposed in FAILURES.md would, to show what fails next.
With LAKEGATE_ENGINES_EMULATE=stagedirs (file:// warehouses) it creates <location>/metadata of
a staged create's answer, as a lakegate that prepared the staged location would.
With LAKEGATE_ENGINES_EMULATE=viewnotfound it answers a loadView refused with 403 by 404
NoSuchViewException when the same caller may load a table of that name (the proxy asks
lakegate for the table with the caller's token), as the fix proposed in TRINO.md would.
Emulated exchanges are marked "emulated" in the traffic file. Never use it to make tests pass.
"""

import hashlib
import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIMIT = 256 * 1024
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}


def text(b):
    if not b:
        return ""
    s = b[:LIMIT].decode("utf-8", "replace")
    try:
        return json.loads(s)
    except ValueError:
        return s


def main():
    port, upstream, out = int(sys.argv[1]), urllib.parse.urlsplit(sys.argv[2]), sys.argv[3]
    lock = threading.Lock()
    sink = open(out, "a", buffering=1)
    seq = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def relay(self):
            req = self.body()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != "host"}
            headers["Host"] = upstream.netloc
            if req or self.command in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(req))
            t0 = time.time()
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=600)
            try:
                conn.request(self.command, self.path, body=req, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                status, rheaders = resp.status, resp.getheaders()
            finally:
                conn.close()
            emulated = False
            if ("nosuchtable" in os.environ.get("LAKEGATE_ENGINES_EMULATE", "").split(",")
                    and status == 404 and self.command == "GET"
                    and re.match(r"^/iceberg/v1/namespaces/[^/]+/tables/[^/?]+(\?.*)?$", self.path)
                    and b"NoSuchNamespaceException" in data):
                data = data.replace(b"NoSuchNamespaceException", b"NoSuchTableException")
                emulated = True
            if ("stagedirs" in os.environ.get("LAKEGATE_ENGINES_EMULATE", "").split(",")
                    and status == 200 and self.command == "POST" and b'"stage-create"' in req):
                try:
                    loc = json.loads(data)["metadata"]["location"]
                    if loc.startswith("file:"):
                        os.makedirs(re.sub(r"^file:(//)?", "", loc) + "/metadata", exist_ok=True)
                        emulated = True
                except (ValueError, KeyError):
                    pass
            m = re.match(r"^/iceberg/v1/namespaces/([^/]+)/views/([^/?]+)(\?.*)?$", self.path)
            if ("viewnotfound" in os.environ.get("LAKEGATE_ENGINES_EMULATE", "").split(",")
                    and status == 403 and self.command == "GET" and m):
                c2 = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=600)
                try:
                    c2.request("GET", f"/iceberg/v1/namespaces/{m.group(1)}/tables/{m.group(2)}", headers=headers)
                    r2 = c2.getresponse()
                    r2.read()
                    if r2.status == 200:
                        ns = urllib.parse.unquote(m.group(1)).replace("\x1f", ".")
                        data = json.dumps({"error": {
                            "message": f"View does not exist: {ns}.{urllib.parse.unquote(m.group(2))}",
                            "type": "NoSuchViewException", "code": 404}}).encode()
                        status, emulated = 404, True
                        rheaders = [(k, v) for k, v in rheaders if k.lower() != "content-length"]
                finally:
                    c2.close()
            self.send_response_only(status)
            for k, v in rheaders:
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            auth = self.headers.get("Authorization", "")
            with lock:
                seq[0] += 1
                sink.write(json.dumps({
                    "seq": seq[0], "at": round(t0, 3), "ms": round((time.time() - t0) * 1000, 1),
                    "method": self.command, "path": self.path, "status": status,
                    "auth": hashlib.sha256(auth.encode()).hexdigest()[:8] if auth else "",
                    "user_agent": self.headers.get("User-Agent", ""),
                    "request": text(req) if "oauth/tokens" not in self.path else "<redacted>",
                    "response": text(data) if "oauth/tokens" not in self.path else "<redacted>",
                    **({"emulated": True} if emulated else {}),
                }) + "\n")

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = relay

    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
