#!/usr/bin/env bash
# bench-pass.sh [N...]: the cost of a no-op `baton scale`, `baton lb render`
# and `baton status` pass at N containers (default 10 100 500), next to the
# physical limit: a bare `docker ps -a --filter label=...` on the same
# engine in the same run. Also the peak memory (max RSS) of each pass.
# Real containers (the FROM scratch demo server), loopback only.
#
# Needs bin/baton and baton-demo:v1 (make bench-pass builds both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100 500)
runs=${BENCH_RUNS:-10}
. "$root/scripts/bench-lib.sh"
bench_setup bench-pass
need_gnu_time

spec() {
  cat >"$dir/baton.yaml" <<SPEC
project: $project
nginx:
  config: baton.conf
  test: ["true"]
  reload: ["true"]
  listen: 127.0.0.1:18099
apps:
  - name: web
    image: baton-demo:v1
    pull: never
    port: 8080
    replicas: $1
    resources: {memory: 16m}
    lb: {path: /}
    health: {type: http, path: /healthz, timeout: 2s, ready_timeout: 60s}
SPEC
}

# mean wall seconds of $runs runs of a command
mean() {
  local s e
  s=$(date +%s.%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null; done
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" -v n="$runs" 'BEGIN {printf "%.3f", (e - s) / n}'
}
maxrss() { # KiB
  /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1
}

echo "| containers | docker ps -a (s) | baton scale no-op (s) | ratio | baton lb render no-op (s) | ratio | baton status (s) | max RSS scale / lb render (MiB) |"
echo "|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  spec "$n"
  baton scale >/dev/null
  baton scale >/dev/null # converged; the next ones are no-ops
  ps=$(mean docker ps -a --filter "label=baton.project=$project")
  sc=$(mean baton scale)
  lb=$(mean baton lb render)
  st=$(mean baton status)
  rss_sc=$(maxrss bin/baton --spec "$dir/baton.yaml" --state "$dir/state.json" scale)
  rss_lb=$(maxrss bin/baton --spec "$dir/baton.yaml" --state "$dir/state.json" lb render)
  awk -v n="$n" -v ps="$ps" -v sc="$sc" -v lb="$lb" -v st="$st" -v r1="$rss_sc" -v r2="$rss_lb" \
    'BEGIN {printf "| %d | %.3f | %.3f | %.2fx | %.3f | %.2fx | %.3f | %.1f / %.1f |\n", n, ps, sc, sc/ps, lb, lb/ps, st, r1/1024, r2/1024}'
done
echo
echo "mean of $runs runs each; every pass makes one container list call (TestOneListCallPerPass) plus one readiness probe per running replica, 256 at once"
