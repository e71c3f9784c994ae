#!/usr/bin/env bash
# What the disk under the decision log costs the issuance path: every allow waits for its line's
# `fdatasync`. Runs the `issuance` and `remote` scenarios at their default load (1000/s for 10 s)
# with the log in three places, ROUNDS times each, and prints each run's latency and errors:
#
#   memory      /dev/shm (tmpfs), where a sync costs almost nothing: the pipeline alone
#   disk        a file on the disk this repository is on, nothing else writing to it
#   disk+writer the same, while a background writer fills the page cache and the kernel writes
#               it back (dd of 1 GB at a time, in a scratch directory on the same disk), as a
#               machine does right after a build
#
#   scripts/bench-log-disk.sh [ROUNDS] [SCENARIOS]
#   scripts/bench-log-disk.sh 3 "issuance remote"
#
# Needs python3 and the disk space for one 1 GB file; builds sentinel in the release profile
# unless SENTINEL names a binary. Latency depends on what else the machine is doing: say so
# (`uptime`) when quoting the figures.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
scenarios=${2:-"issuance remote"}
if [ -z "${SENTINEL:-}" ]; then
    cargo build --release --quiet --bin sentinel
    SENTINEL=target/release/sentinel
fi
[ -d /dev/shm ] || {
    echo "bench-log-disk: /dev/shm is needed for the memory-backed log" >&2
    exit 2
}

scratch=$(mktemp -d "$PWD/target/bench-log-disk.XXXXXX")
memory=$(mktemp -d /dev/shm/bench-log-disk.XXXXXX)
writer=""
stop_writer() {
    if [ -n "$writer" ]; then
        kill "$writer" 2>/dev/null || true
        wait "$writer" 2>/dev/null || true
        writer=""
    fi
    rm -f "$scratch/big.tmp"
}
trap 'stop_writer; rm -rf "$scratch" "$memory"' EXIT

start_writer() {
    (while :; do
        dd if=/dev/zero of="$scratch/big.tmp" bs=1M count=1000 status=none
        rm -f "$scratch/big.tmp"
    done) &
    writer=$!
    sleep 2 # let the page cache fill and writeback begin
}

# run SCENARIO PLACE DIR: one run, one line of figures.
run() {
    local scenario=$1 place=$2 dir=$3
    local log="$dir/$scenario.jsonl"
    rm -f "$log"
    # A breached threshold exits 1 and still prints its report.
    local report
    report=$("$SENTINEL" load --scenario "$scenario" --decision-log "$log" --json -q 2>/dev/null) || true
    if [ -z "$report" ]; then
        echo "$scenario $place: the run printed no report"
        return
    fi
    python3 -c '
import json, sys
place, scenario = sys.argv[1], sys.argv[2]
r = json.loads(sys.stdin.read())
lat = r["latency_ms"]
errors = ",".join(f"{k}={v}" for k, v in sorted(r["errors_by_kind"].items())) or "-"
figures = " ".join(f"{lat[key]:>8.3f}" for key in ("p50", "p99", "p999", "max"))
ok = r["requests"]["ok"]
held = all(t["passed"] for t in r["thresholds"]) and all(c["passed"] for c in r["checks"])
held = "yes" if held else "no"
print(f"{scenario:<9} {place:<12} {figures} {ok:>6} {held:>5}  {errors}")
' "$place" "$scenario" <<<"$report"
}

sync
echo "$(uptime)"
printf '%-9s %-12s %8s %8s %8s %8s %6s %5s  %s\n' scenario log p50_ms p99_ms p999_ms max_ms ok held errors
for round in $(seq 1 "$rounds"); do
    for scenario in $scenarios; do
        run "$scenario" memory "$memory"
        run "$scenario" disk "$scratch"
        start_writer
        run "$scenario" disk+writer "$scratch"
        stop_writer
        sync
    done
done
