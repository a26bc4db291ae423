#!/usr/bin/env bash
# bench-memory.sh [N]: peak memory (max RSS, GNU time) of baton passes over
# N real containers (default 1000). The replicas publish no port, so the
# machine is not also running N docker-proxy processes; the pass still lists,
# converts and decides over all N (scale, heal, status). Loopback only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
n=${1:-1000}
. "$root/scripts/bench-lib.sh"
bench_setup bench-memory
need_gnu_time
# Two apps of N/2 (an app has at most 500 replicas).
cat >"$dir/baton.yaml" <<SPEC
project: $project
apps:
  - {name: worker-a, image: "baton-demo:v1", pull: never, replicas: $((n / 2)), resources: {memory: 16m}}
  - {name: worker-b, image: "baton-demo:v1", pull: never, replicas: $((n - n / 2)), resources: {memory: 16m}}
SPEC
s=$(date +%s)
baton scale >/dev/null
echo "started $n containers in $(( $(date +%s) - s ))s" >&2
echo "| containers | pass | wall (s) | max RSS (MiB) |"
echo "|---|---|---|---|"
for cmd in "scale" "heal" "status"; do
  out=$(/usr/bin/time -f '%e %M' bin/baton --spec "$dir/baton.yaml" --state "$dir/state.json" $cmd 2>&1 >/dev/null | tail -1)
  set -- $out
  awk -v n="$n" -v c="$cmd" -v w="$1" -v m="$2" 'BEGIN {printf "| %d | %s (no-op) | %.2f | %.1f |\n", n, c, w, m/1024}'
done
