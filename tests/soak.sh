#!/usr/bin/env bash
# The soak (tests/it/under_load/soak.rs): two demo instances on one
# redis-server under the chaos program's steady mixed load, without faults.
# It samples each instance's resident memory, open file descriptors and
# alive Tokio tasks after a warm-up, prints them (lines starting `soak:`),
# and fails if any of them grows, or on any revoked or forged token
# accepted, refresh token rotated twice, unexpected answer or 503 on a check.
#
#   tests/soak.sh          the full run: 30 minutes (5 of warm-up, access
#                          tokens of 2 minutes), a sample every 10 s
#   tests/soak.sh short    2 minutes (40 s of warm-up, tokens of 20 s; .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-full}"
case "$mode" in
    short | full) ;;
    *)
        echo "usage: tests/soak.sh [short|full]" >&2
        exit 2
        ;;
esac
JWT_GUARD_SOAK="$mode" cargo test --test it soak_under_steady_load -- --ignored --nocapture --test-threads 1
