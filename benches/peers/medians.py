#!/usr/bin/env python3
"""Prints the median (and its 95% CI) of every benchmark of the last run,
then the measurements that are not criterion timings (propagation, mirror
memory, Redis commands per direct check) from jwt-guard-extra.json.

Usage: python3 benches/peers/medians.py [CRITERION_DIR]
(default: $CARGO_TARGET_DIR/criterion, else target/criterion)
"""
import json
import os
import pathlib
import sys

root = pathlib.Path(
    sys.argv[1] if len(sys.argv) > 1
    else pathlib.Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"
)
rows = []
for f in sorted(root.glob("**/new/estimates.json")):
    # criterion replaces "/" in directory names; benchmark.json has the real id
    bench_id = json.loads((f.parent / "benchmark.json").read_text())["full_id"]
    median = json.loads(f.read_text())["median"]
    ci = median["confidence_interval"]
    rows.append((bench_id, median["point_estimate"], ci["lower_bound"], ci["upper_bound"]))
extra_path = root / "jwt-guard-extra.json"
extra = json.loads(extra_path.read_text()) if extra_path.exists() else {}
if not rows and not extra:
    sys.exit(f"no criterion results under {root}")
if rows:
    width = max(28, *(len(r[0]) for r in rows))
    print(f"| {'benchmark id':<{width}} | {'median':>10} | {'95% CI':>21} |")
    print(f"|{'-' * (width + 2)}|{'-' * 12}|{'-' * 23}|")
    for bench_id, point, lo, hi in sorted(rows):
        print(f"| {bench_id:<{width}} | {point / 1000:7.3f} µs | {lo / 1000:8.3f} – {hi / 1000:8.3f} µs |")
if extra:
    # written by the same bench run (benches/support/extras.rs), one line per id
    print()
    for key in sorted(extra):
        print(extra[key].get("line", f"{key}: {json.dumps(extra[key])}"))
