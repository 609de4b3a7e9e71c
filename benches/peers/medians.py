#!/usr/bin/env python3
"""Prints the median (and its 95% CI) of every benchmark of the last run.

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
if not rows:
    sys.exit(f"no criterion results under {root}")
print(f"| {'benchmark id':<28} | {'median':>10} | {'95% CI':>21} |")
print(f"|{'-' * 30}|{'-' * 12}|{'-' * 23}|")
for bench_id, point, lo, hi in sorted(rows):
    print(f"| {bench_id:<28} | {point / 1000:7.3f} µs | {lo / 1000:8.3f} – {hi / 1000:8.3f} µs |")
