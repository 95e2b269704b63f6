#!/usr/bin/env bash
# Memory of `rootline serve` under large ingest requests (#21 item 2): one gzip'd request of
# ~70 MB of JSON log lines (under the 80 MiB decoded limit), then three such requests at once,
# each against a fresh server and data dir. Prints, per mode, the HTTP statuses, the seconds the
# requests took, the server's CPU seconds, its peak RSS (VmHWM) and its RSS once the requests are
# answered (after a 3 s settle). Numbers go to docs/benchmarks.md. It measures; it asserts nothing.
#
# usage: scripts/bench-serve-ingest-big.sh [rootline binary] [decoded MB per request] [modes]
#   modes: "one three" (default), or either one of them
set -euo pipefail
ROOTLINE=$(realpath "${1:-target/release/rootline}")
MB=${2:-70}
MODES=${3:-one three}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A server built with authentication on every route takes --no-auth for a loopback demo.
no_auth=""
if "$ROOTLINE" serve --help 2>/dev/null | grep -q -- '--no-auth'; then no_auth="--no-auth"; fi
python3 - "$ROOTLINE" "$MB" "$work" "$no_auth" $MODES <<'PY'
import gzip, json, os, socket, subprocess, sys, threading, time, urllib.request, urllib.error
rootline, mb, work, no_auth, modes = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]

def body(seed):
    # Lines shaped like the soak's (JSON, a time, a level, a message with a few variables), one
    # second apart, different per request so requests do not upsert each other's records.
    lines, size, i = [], 0, 0
    t0 = 1796000000 + seed * 10_000_000
    while size < mb * 1e6:
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + i // 10))
        level = "error" if i % 97 == 0 else "info"
        line = json.dumps({"time": t, "level": level, "service": f"svc{i % 7}",
                           "msg": f"request {i} served in {i % 250} ms path=/api/items/{i % 1000} user=u{i % 4099}"}) + "\n"
        lines.append(line)
        size += len(line)
        i += 1
    raw = "".join(lines).encode()
    return len(raw), gzip.compress(raw, 6), i

def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])

def cpu_s(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

def run(mode, bodies):
    data = os.path.join(work, f"data-{mode}")
    port = free_port()
    args = [rootline, "serve", "--listen", f"127.0.0.1:{port}"] + ([no_auth] if no_auth else [])
    log = open(os.path.join(work, f"serve-{mode}.log"), "w")
    server = subprocess.Popen(args, env=dict(os.environ, ROOTLINE_DATA_DIR=data), stdout=log, stderr=log)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz").read(); break
            except Exception:
                time.sleep(0.1)
        rss0 = status_kb(server.pid, "VmRSS") / 1024
        cpu0 = cpu_s(server.pid)
        results = [None] * len(bodies)
        def post(k):
            _, gz, _ = bodies[k]
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/ingest/logs?service=big",
                data=gz, headers={"content-type": "application/x-ndjson", "content-encoding": "gzip"})
            t = time.time()
            try:
                with urllib.request.urlopen(req, timeout=1800) as r:
                    reply = json.load(r); code = r.status
            except urllib.error.HTTPError as e:
                reply = e.read()[:200]; code = e.code
            results[k] = (code, time.time() - t, reply)
        threads = [threading.Thread(target=post, args=(k,)) for k in range(len(bodies))]
        start = time.time()
        [t.start() for t in threads]
        [t.join() for t in threads]
        wall = time.time() - start
        time.sleep(3)
        hwm = status_kb(server.pid, "VmHWM") / 1024
        rss1 = status_kb(server.pid, "VmRSS") / 1024
        anon, file = status_kb(server.pid, "RssAnon") / 1024, status_kb(server.pid, "RssFile") / 1024
        cpu = cpu_s(server.pid) - cpu0
        for code, secs, reply in results:
            indexed = reply.get("indexed") if isinstance(reply, dict) else reply
            print(f"  {mode}: HTTP {code} in {secs:.1f} s, indexed {indexed}")
        print(f"{mode}: {len(bodies)} request(s) of {bodies[0][0] / 1e6:.1f} MB decoded "
              f"({len(bodies[0][1]) / 1e3:.0f} KB gzip, {bodies[0][2]} lines) in {wall:.1f} s, "
              f"{cpu:.1f} CPU-s (server); "
              f"RSS {rss0:.0f} MB at start, peak (VmHWM) {hwm:.0f} MB, {rss1:.0f} MB after "
              f"({anon:.0f} MB heap, {file:.0f} MB mapped files)")
    finally:
        server.terminate(); server.wait()

for mode in modes:
    count = {"one": 1, "three": 3}[mode]
    run(mode, [body(k) for k in range(count)])
PY
