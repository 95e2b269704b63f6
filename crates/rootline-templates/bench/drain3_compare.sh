#!/usr/bin/env bash
# Drain3 baseline on Loghub-2k: same input (the Content column), same output format, same scorer.
#
# Usage: bench/drain3_compare.sh [LOGHUB_DIR] [OUT_DIR]
#   LOGHUB_DIR defaults to /work/shared/datasets/loghub2k, OUT_DIR to /tmp/drain3-out.
# Drain3 runs with its built-in defaults (no drain3.ini: sim_th=0.4, depth=4, max_children=100,
# no masking instructions, parametrize_numeric_tokens=True); one fresh TemplateMiner per system.
# The template of each line is its cluster's FINAL template after all 2,000 lines.
# Throughput = all lines / wall time spent in add_log_message (file reading excluded), best of 3.
set -euo pipefail
LOGHUB="${1:-/work/shared/datasets/loghub2k}"
OUT="${2:-/tmp/drain3-out}"
VENV="${DRAIN3_VENV:-/tmp/drain3-venv}"
EVAL="${LOGHUB_EVAL:-/work/shared/tools/loghub_eval.py}"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check drain3
mkdir -p "$OUT"

"$VENV/bin/python" - "$LOGHUB" "$OUT" <<'PY'
import csv, os, sys, time, logging
from importlib.metadata import version
logging.disable(logging.CRITICAL)
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

csv.field_size_limit(sys.maxsize)
gt_dir, out_dir = sys.argv[1], sys.argv[2]

def gt_file(d, s):
    for n in (f"{s}_2k.log_structured_corrected.csv", f"{s}_2k.log_structured.csv"):
        p = os.path.join(d, n)
        if os.path.isfile(p):
            return p
    return None

systems = []
for s in sorted(os.listdir(gt_dir)):
    d = os.path.join(gt_dir, s)
    if os.path.isdir(d) and gt_file(d, s):
        with open(gt_file(d, s), newline="", encoding="utf-8-sig") as fh:
            rows = [(r["LineId"], r["Content"]) for r in csv.DictReader(fh)]
        systems.append((s, rows))

def make_miner():
    cfg = TemplateMinerConfig()  # built-in defaults; nothing loaded from a drain3.ini
    cfg.profiling_enabled = False
    return TemplateMiner(config=cfg)

total_lines = sum(len(r) for _, r in systems)
best = None
for rep in range(3):
    elapsed = 0.0
    for s, rows in systems:
        m = make_miner()
        t0 = time.perf_counter()
        ids = [m.add_log_message(c)["cluster_id"] for _, c in rows]
        elapsed += time.perf_counter() - t0
        if rep == 0:
            tpl = {c.cluster_id: c.get_template() for c in m.drain.clusters}
            with open(os.path.join(out_dir, f"{s}.csv"), "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["LineId", "TemplateId", "Template"])
                for (lid, _), cid in zip(rows, ids):
                    w.writerow([lid, cid, tpl[cid]])
    best = elapsed if best is None else min(best, elapsed)
print(f"drain3 {version('drain3')}: {total_lines} lines in {best:.3f} s = {total_lines / best:,.0f} lines/s "
      f"(best of 3, add_log_message only)")
PY

python3 "$EVAL" "$LOGHUB" "$OUT"
python3 "$EVAL" "$LOGHUB" "$OUT" --json > "$OUT/scores.json"
echo "per-system JSON: $OUT/scores.json"
