#!/usr/bin/env bash
# Ablation table: rootline eval on every dataset under DIR (as `rootline import` wrote them: one
# directory per dataset) with the default engine configuration and with each file of
# eval/ablation/*.toml. Usage: bash eval/ablation.sh /tmp/rl-eval [path/to/rootline]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?give the directory that holds one imported dataset per subdirectory}
BIN=${2:-target/release/rootline}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export ROOTLINE_DATA_DIR="$OUT/data"
: > "$OUT/none.toml"
for cfg in "$OUT/none.toml" eval/ablation/*.toml; do
  name=$(basename "$cfg" .toml)
  for ds in "$DIR"/*/; do
    "$BIN" --engine-config "$cfg" eval "$ds" --json > "$OUT/$name--$(basename "$ds").json"
  done
done
python3 - "$OUT" <<'PY'
import json, os, sys, glob
out = sys.argv[1]
rows = {}
for f in sorted(glob.glob(os.path.join(out, "*--*.json"))):
    name = os.path.basename(f).split("--")[0]
    for s in json.load(open(f))["summaries"]:
        level = "entity" if "entity" in s["levels"] and s["source"].startswith(("gaia", "openrca")) else "service"
        m = s["levels"].get(level)
        if m is None:
            continue
        c = s["committed_correct"]
        rows.setdefault(name, {})[s["source"]] = (m["ac"][0], c["hits"], c["n"], s["controls_correct"])
sources = sorted({k for r in rows.values() for k in r})
print("| switched off | " + " | ".join(sources) + " |")
print("|---|" + "---:|" * len(sources))
base = rows.get("none", {})
for name in ["none"] + sorted(k for k in rows if k != "none"):
    cells = []
    for src in sources:
        if src not in rows[name]:
            cells.append("n/a")
            continue
        ac1, hits, n, ctrl = rows[name][src]
        cell = f"{ac1:.2f}"
        b = base.get(src)
        if name != "none" and b and abs(b[0] - ac1) > 1e-9:
            cell += f" ({ac1 - b[0]:+.2f})"
        if name != "none" and b and (hits, n) != (b[1], b[2]):
            cell += f", claims {hits}/{n}"
        if ctrl["n"] and name != "none" and b and ctrl != b[3]:
            cell += f", controls {ctrl['hits']}/{ctrl['n']}"
        cells.append(cell)
    print(f"| {'(defaults)' if name == 'none' else name} | " + " | ".join(cells) + " |")
PY
