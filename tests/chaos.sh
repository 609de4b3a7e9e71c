#!/usr/bin/env bash
# The chaos program (tests/it/chaos.rs): two demo instances on one Redis
# deployment at a time (one server with AOF, Sentinel with a replica, a
# Cluster of three masters with a replica each) under a steady mixed load,
# while Redis is killed, paused, frozen, failed over and restarted, and
# while every core is busy. It prints a table (lines starting `chaos:`) and
# fails on any revoked or forged token accepted, any refresh token rotated
# twice, any unexpected answer, or slow 503s on token checks.
#
#   tests/chaos.sh          the full run (about 10 minutes: 20 s of steady
#                           load between faults, 5 s holds, 60 s of busy cores)
#   tests/chaos.sh short    a few seconds per fault (about 2 minutes; .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-full}"
case "$mode" in
    short | full) ;;
    *)
        echo "usage: tests/chaos.sh [short|full]" >&2
        exit 2
        ;;
esac
JWT_GUARD_CHAOS="$mode" cargo test --test it chaos_under_load -- --ignored --nocapture --test-threads 1
