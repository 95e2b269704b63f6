#!/usr/bin/env bash
# Soak: clients posting small log batches to a running `rootline serve`, the way a collector
# flushes every second. Prints request latency (p50/p99) at the start and at the end, the
# server's RSS at the start and the end (and its peak, VmHWM), and the log index's segment
# count. Numbers go to docs/benchmarks.md. Large requests: scripts/bench-serve-ingest-big.sh.
#
# usage: scripts/bench-serve-ingest.sh [rootline binary] [seconds] [clients]
set -euo pipefail
ROOTLINE=$(realpath "${1:-target/release/rootline}")
SECONDS_TOTAL=${2:-120}
CLIENTS=${3:-4}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# A server built with authentication on every route takes --no-auth for a loopback demo.
no_auth=()
if "$ROOTLINE" serve --help 2>/dev/null | grep -q -- '--no-auth'; then no_auth=(--no-auth); fi
ROOTLINE_DATA_DIR="$work/data" "$ROOTLINE" serve --listen "127.0.0.1:$port" "${no_auth[@]}" 2>"$work/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
until curl -sf "127.0.0.1:$port/healthz" >/dev/null; do sleep 0.2; done
python3 - "$port" "$SECONDS_TOTAL" "$CLIENTS" "$pid" "$work/data/index" <<'PY'
import json, os, sys, threading, time, urllib.request
port, total, clients, pid, index = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def rss_mb(key="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
def segments():
    try:
        return len(json.load(open(os.path.join(index, "meta.json")))["segments"])
    except Exception:
        return None
lat = []  # (t, seconds)
lock = threading.Lock()
start = time.time()
def client(c):
    n = 0
    while time.time() - start < total:
        n += 1
        body = "".join(
            json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "info",
                        "msg": f"client {c} batch {n} line {i}"}) + "\n" for i in range(20)).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/ingest/logs?service=soak{c}",
                                     data=body, headers={"content-type": "text/plain"})
        t0 = time.time()
        urllib.request.urlopen(req).read()
        with lock:
            lat.append((t0 - start, time.time() - t0))
        time.sleep(max(0.0, 0.25 - (time.time() - t0)))
rss0 = rss_mb()
threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
[t.start() for t in threads]
[t.join() for t in threads]
rss1 = rss_mb()
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000
first = [s for t, s in lat if t < total * 0.1]
last = [s for t, s in lat if t > total * 0.9]
print(f"requests {len(lat)} over {total:.0f} s from {clients} clients (20 lines each)")
print(f"first 10%: p50 {pct(first, .5):.1f} ms  p99 {pct(first, .99):.1f} ms")
print(f"last 10%:  p50 {pct(last, .5):.1f} ms  p99 {pct(last, .99):.1f} ms")
print(f"RSS {rss0:.0f} MB -> {rss1:.0f} MB (peak {rss_mb('VmHWM'):.0f} MB); log index segments at the end: {segments()}")
PY
