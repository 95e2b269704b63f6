#!/usr/bin/env bash
# Interim accuracy check (until `rootline eval` lands): imports every Nezha TrainTicket case from
# ../shared/datasets and reports where the true root-cause service ranks. Logs only; no traces or
# metrics yet. Usage: scripts/eval-nezha.sh [DATASET_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-../shared/datasets/nezha_trainticket}
[ -f "$SRC/cases.jsonl" ] || { echo "SKIPPED: no Nezha dataset at $SRC" >&2; exit 0; }
if [ -z "${ROOTLINE_BIN:-}" ]; then cargo build -q -p rootline; fi
BIN=${ROOTLINE_BIN:-target/debug/rootline}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
$BIN import nezha "$SRC" --out "$WORK/bundles" >/dev/null
export ROOTLINE_DATA_DIR="$WORK/data"
for c in "$WORK"/bundles/*/; do
  $BIN investigate "$c" --format json > "$WORK/report.json" 2>/dev/null
  python3 - "$c" "$WORK/report.json" <<'PY'
import json, sys
bundle, report = sys.argv[1], sys.argv[2]
r = json.load(open(report)); t = json.load(open(bundle + "truth.json"))
ents = [c["entity"] for c in r["candidates"]]
rank = ents.index(t["root_cause_service"]) + 1 if t["root_cause_service"] in ents else 0
print(f'{bundle.rstrip("/").split("/")[-1]}\t{t["fault_type"]}\t{t["root_cause_service"]}\t{rank}\t{r["outcome"]}\t{",".join(ents[:3])}')
PY
done | tee "$WORK/results.tsv"
python3 - "$WORK/results.tsv" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
ranks = [int(r[3]) for r in rows]
n = len(ranks)
hit = lambda k: sum(1 for x in ranks if 0 < x <= k) / n
claimed = [r for r in rows if r[4] == "probable_cause"]
right = sum(1 for r in claimed if r[3] == "1")
print(f"cases {n}  AC@1 {hit(1):.3f}  AC@3 {hit(3):.3f}  AC@5 {hit(5):.3f}  "
      f"probable-cause claims {len(claimed)} ({right} right)")
PY
