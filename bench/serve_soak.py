"""The load client of bench/serve_soak.sh: N requests to a running `cnn serve` from C keep-alive clients at once.

Each client keeps one connection and sends, in turn: predictions (POST /api/predict, a 28x28 image, no maps), the
model's description (GET /api/model), bad requests (malformed JSON: 400; a wrong image size: 422; an unknown
path: 404), and every 50th request on a new connection. Meanwhile two clients send requests a byte a second,
reconnecting when the server drops them. Prints requests/s, latency percentiles and the server's resident memory
(VmRSS of --pid) after a warm-up and at every tenth of the run; any failure (no answer, or not the status expected)
is counted and makes the exit status 1.

Debian's python3 (/usr/bin/python3), standard library only.
"""

import argparse
import http.client
import json
import socket
import sys
import threading
import time

IMAGE = json.dumps({"maps": False, "image": [0.25] * 784})
KINDS = [
    ("POST", "/api/predict", IMAGE, 200),
    ("GET", "/api/model", None, 200),
    ("POST", "/api/predict", IMAGE, 200),
    ("POST", "/api/predict", '{"image": [0, 0', 400),
    ("POST", "/api/predict", IMAGE, 200),
    ("POST", "/api/predict", json.dumps({"image": [0.5] * 783}), 422),
    ("POST", "/api/predict", IMAGE, 200),
    ("GET", "/no/such/page", None, 404),
]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


class Run:
    def __init__(self, total):
        self.total = total
        self.next = 0
        self.lock = threading.Lock()
        self.latencies = []
        self.failures = 0
        self.first_failures = []
        self.stop = False

    def take(self):
        with self.lock:
            if self.next >= self.total:
                return -1
            self.next += 1
            return self.next - 1


class Connection(http.client.HTTPConnection):
    """Without Nagle's algorithm, as browsers do: http.client sends a request's headers and body apart."""

    def connect(self):
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def client(port, run, worker):
    conn = None
    latencies = []
    failures = []
    while True:
        i = run.take()
        if i < 0:
            break
        method, path, body, want = KINDS[(i + worker) % len(KINDS)]
        if conn is None or i % 50 == 0:
            if conn is not None:
                conn.close()
            conn = Connection("127.0.0.1", port, timeout=10)
        t = time.perf_counter()
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            status = r.status
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            status = f"{type(e).__name__}: {e}"
            conn.close()
            conn = None
        latencies.append(time.perf_counter() - t)
        if status != want:
            failures.append(f"request {i}: {method} {path}: {status}, not {want}")
    if conn is not None:
        conn.close()
    with run.lock:
        run.latencies += latencies
        run.failures += len(failures)
        run.first_failures += failures[:3]


def slow_client(port, run, stats):
    """A request a byte a second; the server answers 408 and closes, and this client starts again."""
    request = b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 30000\r\n\r\n"
    while not run.stop:
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(0.05)
        answer = b""
        for b in request:
            if run.stop:
                break
            try:
                s.send(bytes([b]))
            except OSError:
                break
            t = time.time()
            closed = False
            while time.time() - t < 1.0 and not run.stop:
                try:
                    got = s.recv(4096)
                except socket.timeout:
                    continue
                except OSError:
                    closed = True
                    break
                if not got:
                    closed = True
                    break
                answer += got
            if closed:
                break
        s.close()
        if answer.startswith(b"HTTP/1.1 408 "):
            stats["cut"] += 1


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="the server's process, for its resident memory")
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=5000)
    a = ap.parse_args()

    warm = Run(a.warmup)
    threads = [threading.Thread(target=client, args=(a.port, warm, w)) for w in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rss_before = rss_kib(a.pid)
    print(f"warm-up: {a.warmup} requests, {warm.failures} failures; server RSS {rss_before / 1024:.1f} MiB")

    run = Run(a.requests)
    slow_stats = {"cut": 0}
    slow = [threading.Thread(target=slow_client, args=(a.port, run, slow_stats)) for _ in range(2)]
    for t in slow:
        t.start()
    threads = [threading.Thread(target=client, args=(a.port, run, w)) for w in range(a.clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    samples = []
    tenth = max(1, a.requests // 10)
    mark = tenth
    while any(t.is_alive() for t in threads):
        time.sleep(0.05)
        with run.lock:
            done = run.next
        if done >= mark:
            samples.append((done, rss_kib(a.pid)))
            mark += tenth
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    run.stop = True
    for t in slow:
        t.join()
    rss_after = rss_kib(a.pid)

    lat = sorted(run.latencies)
    ms = lambda s: f"{s * 1000:.2f} ms"
    print(f"requests: {len(lat)} from {a.clients} keep-alive clients (and 2 sending a byte a second, "
          f"answered 408 {slow_stats['cut']} times) in {seconds:.1f} s: {len(lat) / seconds:.0f} requests/s")
    print(f"latency: p50 {ms(percentile(lat, 50))}, p99 {ms(percentile(lat, 99))}, max {ms(lat[-1])}")
    print("server RSS (MiB) at each tenth: " + ", ".join(f"{r / 1024:.1f}" for _, r in samples))
    print(f"server RSS: {rss_before / 1024:.1f} MiB before, {rss_after / 1024:.1f} MiB after "
          f"({(rss_after - rss_before) / 1024:+.1f} MiB)")
    print(f"failures: {run.failures + warm.failures}")
    for f in run.first_failures[:10]:
        print("  " + f)
    return 1 if run.failures + warm.failures else 0


if __name__ == "__main__":
    sys.exit(main())
