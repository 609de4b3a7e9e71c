#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each, seeded by
# seed.py, and prints executions, coverage and corpus size per target.
#   fuzz/run.sh [SECONDS] [TARGET...]      (default 30 s each)
# The corpus is kept outside the clone ($FUZZ_CORPUS_DIR, default
# ~/.cache/jwt-guard/fuzz-corpus) so that runs build on each other. A crash
# leaves its input in fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-30}"
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
# cargo-fuzz needs nightly flags (sanitizers); the machine has stable only.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/jwt-guard/fuzz-target}"
corpus="${FUZZ_CORPUS_DIR:-$HOME/.cache/jwt-guard/fuzz-corpus}"
seeds="$(mktemp -d)"
trap 'rm -rf "$seeds"' EXIT
python3 seed.py "$seeds" >/dev/null
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
cargo fuzz build 2>&1 | grep -E '^(error|warning)' || true
failed=0
printf '%-15s %12s %8s %8s %10s  %s\n' target executions exec/s cov corpus result
for target in "${targets[@]}"; do
    mkdir -p "$corpus/$target"
    log="$seeds/$target.log"
    if cargo fuzz run "$target" "$corpus/$target" "$seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 >"$log" 2>&1; then
        result=ok
    elif grep -qE 'panicked|SUMMARY|ERROR|Test unit written' "$log"; then
        result="CRASH (fuzz/artifacts/$target/)"
        failed=1
        grep -E 'panicked|SUMMARY|ERROR' "$log" | head -5 >&2 || true
    else
        # Not a finding: the target did not run (a build that failed, say).
        result="FAILED TO RUN"
        failed=1
        tail -20 "$log" >&2
    fi
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
    printf '%-15s %12s %8s %8s %10s  %s\n' "$target" "$execs" "$((execs / seconds))" "$cov" \
        "$(ls "$corpus/$target" | wc -l)" "$result"
done
exit "$failed"
