#!/usr/bin/env bash
# How much a Prometheus pull adds to an investigation: 200 series x 1 hour (plus the half hour
# of baseline before it) backfilled into a real Prometheus with promtool, then the same
# investigation timed with and without `--prometheus-url`. Numbers go to docs/benchmarks.md.
#
# usage: scripts/bench-prometheus-pull.sh [path/to/rootline] (default: target/release/rootline)
set -euo pipefail
ROOTLINE=${1:-target/release/rootline}
ROOTLINE=$(realpath "$ROOTLINE")
SERIES=${SERIES:-200}
work=$(mktemp -d)
trap 'kill $(cat "$work/prom.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
now=$(date +%s)
start=$((now - 3600))
from=$((start - 1860))

# 200 gauges, one sample every 15 s from 31 minutes before the window to its end; the last
# quarter hour of series 7 rises (something to find).
python3 - "$work/data.om" "$SERIES" "$from" "$now" <<'PY'
import sys, math
out, n, t0, t1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with open(out, "w") as f:
    f.write("# TYPE bench_latency_seconds gauge\n")
    for i in range(n):
        for t in range(t0, t1, 15):
            v = 0.05 + 0.005 * math.sin(t / 300 + i)
            if i == 7 and t > t1 - 900:
                v *= 8
            f.write(f'bench_latency_seconds{{service="svc-{i}"}} {v:.6f} {t}\n')
    f.write("# EOF\n")
PY
promtool tsdb create-blocks-from openmetrics "$work/data.om" "$work/tsdb" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
prometheus --config.file=/dev/null --storage.tsdb.path="$work/tsdb" \
  --storage.tsdb.retention.time=30d --web.listen-address="127.0.0.1:$port" >/dev/null 2>&1 &
echo $! > "$work/prom.pid"
until curl -sf "127.0.0.1:$port/-/ready" >/dev/null; do sleep 0.2; done
: > "$work/none.toml"
cat > "$work/rootline.toml" <<TOML
[prometheus]
url = "http://127.0.0.1:$port"
default_queries = false
[[prometheus.queries]]
name = "bench_latency_seconds"
query = "bench_latency_seconds"
TOML
run() { # label, config, extra args...
  local label=$1 config=$2; shift 2
  local t0 t1
  t0=$(date +%s.%N)
  ROOTLINE_DATA_DIR="$work/data" "$ROOTLINE" --config "$config" investigate \
    --title bench --start "$start" --end "$now" --format json "$@" > "$work/$label.json"
  t1=$(date +%s.%N)
  echo "$label $(echo "$t1 - $t0" | bc)"
}
mkdir -p "$work/data"
run warmup "$work/none.toml" >/dev/null
for i in 1 2 3; do
  run without "$work/none.toml"
  run with "$work/rootline.toml"
done
python3 - "$work/with.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["stats"]
top = r["candidates"][0]["entity"] if r["candidates"] else None
print(f"window points {s['window_records']}, baseline points {s['baseline_records']}, top candidate {top}")
PY
