#!/usr/bin/env bash
# bench-heal.sh: wall time of one `baton heal` pass over N replicas of which
# K hang on their health endpoint (probe timeout 1s), for each K given.
# Real containers, real probes; traffic only to 127.0.0.1.
#
#   scripts/bench-heal.sh [N] [K...]      default: 50 replicas, K = 0 10 25 50
#
# Prints a markdown table: K, wall seconds of 3 passes (min, median, max).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
n=${1:-50}
shift || true
ks=("$@")
[ ${#ks[@]} -gt 0 ] || ks=(0 10 25 50)
. "$root/scripts/bench-lib.sh"
bench_setup bench-heal
cat >"$dir/baton.yaml" <<SPEC
project: $project
apps:
  - name: web
    image: baton-demo:v1
    pull: never
    port: 8080
    replicas: $n
    resources: {memory: 16m}
    health: {type: http, path: /healthz, timeout: 1s, failure_threshold: 100, ready_timeout: 60s}
SPEC
baton scale >/dev/null
ports=$(docker ps --filter label=baton.project=$project --format '{{.Ports}}' | sed -E 's/.*:([0-9]+)->.*/\1/' | sort -n)
hung=0
echo "| replicas | hanging | pass 1 (s) | pass 2 (s) | pass 3 (s) |"
echo "|---|---|---|---|---|"
for k in "${ks[@]}"; do
  # Make k replicas hang (cumulative: the first k ports).
  i=0
  for p in $ports; do
    i=$((i+1))
    [ $i -le $hung ] && continue
    [ $i -gt $k ] && break
    curl -s --max-time 2 "http://127.0.0.1:$p/control/hang" >/dev/null
  done
  hung=$k
  times=()
  for _ in 1 2 3; do
    s=$(date +%s.%N)
    baton heal >/dev/null || true
    e=$(date +%s.%N)
    times+=("$(awk -v s="$s" -v e="$e" 'BEGIN {print e - s}')")
  done
  printf '| %s | %s | %.2f | %.2f | %.2f |\n' "$n" "$k" "${times[0]}" "${times[1]}" "${times[2]}"
done
