#!/usr/bin/env bash
# How long `rootline serve` takes to answer an investigation asked over chat and over the API:
# a fresh data dir, the bundled Nezha incident's logs and traces posted to the ingest API, then
# N slash commands (Mattermost token mode) and N POST /api/v1/investigations of its window.
#   bash scripts/bench_serve.sh [path/to/rootline (default: a release build)] [N (default 10)]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/rootline}
N=${2:-10}
PORT=${PORT:-7999}
DEMO=eval/demo/nezha-tt-2023-01-29-0925
DATA=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT

ROOTLINE_CHAT_TOKEN=bench "$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" 2>/dev/null &
SERVER=$!
for _ in $(seq 1 50); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

for f in "$DEMO"/logs/09_2*_log.jsonl.gz; do
  curl -sf -H 'content-type: text/plain' -H 'content-encoding: gzip' --data-binary @"$f" "127.0.0.1:$PORT/api/v1/ingest/logs" >/dev/null
done
for f in "$DEMO"/traces/09_2*_trace.csv.gz; do
  curl -sf -H 'content-type: text/csv' -H 'content-encoding: gzip' --data-binary @"$f" "127.0.0.1:$PORT/api/v1/ingest/traces" >/dev/null
done

stats() { sort -n | awk '{a[NR]=$1; s+=$1} END {printf "mean %.3f s, median %.3f s, max %.3f s (n=%d)\n", s/NR, a[int((NR+1)/2)], a[NR], NR}'; }

TEXT='investigate+since+2023-01-29T09%3A25%3A39Z+until+2023-01-29T09%3A27%3A08Z'
echo -n "slash command /rootline investigate: "
for _ in $(seq 1 "$N"); do
  curl -s -o /dev/null -w '%{time_total}\n' \
    --data "token=bench&user_name=bench&command=%2Frootline&text=$TEXT&response_url=" \
    "127.0.0.1:$PORT/chatops/slash"
done | stats
echo -n "POST /api/v1/investigations:        "
for _ in $(seq 1 "$N"); do
  curl -s -o /dev/null -w '%{time_total}\n' -H 'content-type: application/json' \
    -d '{"title":"bench","start":"2023-01-29T09:25:39Z","end":"2023-01-29T09:27:08Z"}' \
    "127.0.0.1:$PORT/api/v1/investigations"
done | stats
curl -s "127.0.0.1:$PORT/api/v1/investigations" -H 'content-type: application/json' \
  -d '{"title":"check","start":"2023-01-29T09:25:39Z","end":"2023-01-29T09:27:08Z"}' \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); print("top candidate:", r["candidates"][0]["entity"], "/", r["outcome"])'
