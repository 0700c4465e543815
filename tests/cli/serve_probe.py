"""Socket-level probes of `aitag serve` for test_serve.sh (loopback only,
bounded in count and time). Each sub-command prints one line and exits 0
when the check holds, 1 otherwise.

  serve_probe.py slowloris PORT N WAIT     N clients send half a request; others are served; all closed by WAIT s
  serve_probe.py disconnect PORT N         N clients leave mid-body; the service goes on
  serve_probe.py flood PORT N              N connections opened at once; the service still answers afterwards
  serve_probe.py inflight PORT BODY GOFILE  sends half of BODY (NDJSON), waits for GOFILE, sends the rest;
                                           prints the status and the number of answer lines
  serve_probe.py hammer PORT BODY CTYPE STOPFILE THREADS
                                           keep-alive POST /v1/classify until STOPFILE exists; every answer 200
"""
import http.client
import json
import os
import resource
import socket
import sys
import threading
import time


def healthz(port, timeout=5.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", "/healthz")
        r = c.getresponse()
        return r.status == 200 and r.read() == b'{"status": "ok"}\n'
    except OSError:
        return False
    finally:
        c.close()


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def slowloris(port, n, wait):
    socks = []
    for _ in range(n):
        s = connect(port)
        s.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        socks.append(s)
    t0 = time.time()
    if not healthz(port, 3.0):
        print("FAIL: /healthz not answered while %d slow clients hang" % n)
        return 1
    served = time.time() - t0
    closed = 0
    deadline = time.time() + wait
    for s in socks:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            while s.recv(4096):  # until the server closes the connection
                pass
            closed += 1
        except socket.timeout:
            pass
        except OSError:
            closed += 1
        s.close()
    ok = closed == n and healthz(port)
    print("%s: %d slow clients, /healthz answered in %.3f s meanwhile, %d closed by the server within %s s"
          % ("ok" if ok else "FAIL", n, served, closed, wait))
    return 0 if ok else 1


def disconnect(port, n):
    for _ in range(n):
        s = connect(port)
        s.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                  b"Content-Length: 10000000\r\n\r\n" + b'{"text": "chips and GPUs"}\n' * 2000)
        s.close()
    time.sleep(0.5)
    ok = healthz(port)
    print("%s: %d clients left mid-body; /healthz %s" % ("ok" if ok else "FAIL", n, "answers" if ok else "fails"))
    return 0 if ok else 1


def flood(port, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, n + 256)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    socks, refused = [], 0
    for _ in range(n):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError:  # out of file descriptors here: test with what we have
            break
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            refused += 1
            s.close()
            continue
        socks.append(s)
    time.sleep(1.0)
    # a request on each of the first 100: answered (200 or 503), or closed; never a hang
    answered = 0
    for s in socks[:100]:
        s.setblocking(True)
        s.settimeout(5)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            if s.recv(12).startswith(b"HTTP/1.1 "):
                answered += 1
        except OSError:
            pass
    for s in socks:
        s.close()
    ok = False
    for _ in range(50):
        if healthz(port):
            ok = True
            break
        time.sleep(0.1)
    print("%s: %d connections opened at once (%d refused by the kernel), %d of the first 100 answered; "
          "/healthz %s afterwards" % ("ok" if ok else "FAIL", len(socks), refused, answered,
                                      "answers" if ok else "fails"))
    return 0 if ok else 1


def hammer(port, body_path, ctype, stopfile, threads):
    with open(body_path, "rb") as f:
        body = f.read()
    stats = {"ok": 0, "bad": 0, "errors": []}
    lock = threading.Lock()

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not os.path.exists(stopfile):
            try:
                c.request("POST", "/v1/classify", body, {"Content-Type": ctype})
                r = c.getresponse()
                data = r.read()
                good = r.status == 200 and all(b'"labels"' in ln for ln in data.splitlines())
            except (OSError, http.client.HTTPException) as e:
                good, data = False, repr(e).encode()
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                if good:
                    stats["ok"] += 1
                else:
                    stats["bad"] += 1
                    stats["errors"].append(data[:200])
        c.close()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    ok = stats["bad"] == 0 and stats["ok"] > 0
    print("%s: %d requests answered 200, %d failed %s" % ("ok" if ok else "FAIL", stats["ok"], stats["bad"],
                                                          stats["errors"][:3]))
    return 0 if ok else 1


def inflight(port, body_path, gofile):
    with open(body_path, "rb") as f:
        body = f.read()
    s = connect(port)
    s.settimeout(60)
    s.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
              b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:len(body) // 2])
    deadline = time.time() + 30
    while not os.path.exists(gofile) and time.time() < deadline:
        time.sleep(0.02)
    s.sendall(body[len(body) // 2:])
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n")[0].decode(errors="replace")
    if b"chunked" in head.lower():
        out, pos = b"", 0
        while True:
            eol = rest.index(b"\r\n", pos)
            n = int(rest[pos:eol], 16)
            if n == 0:
                break
            out += rest[eol + 2:eol + 2 + n]
            pos = eol + 2 + n + 2
        rest = out
    print("%s %d" % (status, rest.count(b"\n")))
    return 0


def main(a):
    if a[0] == "slowloris":
        return slowloris(int(a[1]), int(a[2]), float(a[3]))
    if a[0] == "disconnect":
        return disconnect(int(a[1]), int(a[2]))
    if a[0] == "flood":
        return flood(int(a[1]), int(a[2]))
    if a[0] == "inflight":
        return inflight(int(a[1]), a[2], a[3])
    if a[0] == "hammer":
        return hammer(int(a[1]), a[2], a[3], a[4], int(a[5]))
    print("unknown probe " + a[0])
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
