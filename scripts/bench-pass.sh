#!/usr/bin/env bash
# bench-pass.sh [N...]: the whole-process wall time of a no-op `baton lb
# render`, `scale`, `status` and `heal` pass at N replicas (default 100 500
# 1000), side by side with the floor — a bare `docker ps -q --filter
# label=baton.project=P` on the same engine — in one run: BENCH_RUNS
# (default 7) paired rounds, each timing the floor and then every pass once;
# the table shows medians and each pass's median over the floor's median.
# `heal` runs every round, as `heal --every` does in production, so the
# other passes find verdicts fresher than health.interval and reuse them
# (issue 17). heal must probe every replica, so its floor is the list call
# plus the probe floor: a minimal Go client (scripts/probefloor) probing
# every replica once, timed in the same rounds. Real replicas of the FROM
# scratch demo server, published on 127.0.0.1; nothing leaves the host.
#
# Needs bin/baton and baton-demo:v1 (make bench builds both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 500 1000)
runs=${BENCH_RUNS:-7}
. "$root/scripts/bench-lib.sh"
bench_setup bench-pass

spec() { # spec N: N replicas over apps of at most 500 (the spec's cap)
  local n=$1 apps per a
  apps=$(( (n + 499) / 500 ))
  per=$(( n / apps ))
  {
    echo "project: $project"
    echo "nginx: {config: baton.conf, test: [\"true\"], reload: [\"true\"], listen: \"127.0.0.1:18099\"}"
    echo "apps:"
    for a in $(seq 1 "$apps"); do
      echo "  - {name: web$a, image: baton-demo:v1, pull: never, port: 8080, replicas: $per, resources: {memory: 16m}, lb: {path: /w$a}, health: {type: http, path: /healthz, timeout: 2s, ready_timeout: 60s}}"
    done
  } >"$dir/baton.yaml"
}

now() { date +%s%N; }
# secs CMD...: the wall seconds of one run
secs() {
  local s e
  s=$(now)
  "$@" >/dev/null 2>&1 || true
  e=$(now)
  awk -v s="$s" -v e="$e" 'BEGIN {printf "%.4f", (e - s) / 1e9}'
}
median() { sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%.4f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

go build -o "$dir/probefloor" ./scripts/probefloor
echo "| replicas | docker ps -q --filter (s) | lb render no-op | scale no-op | status | heal no-op | probe floor (s) | heal over ps + probe floor |"
echo "|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  spec "$n"
  bench_neigh "$n"
  baton --lock-timeout 600s scale >/dev/null
  baton heal >/dev/null
  baton scale >/dev/null
  [ -z "$(baton scale)" ] || { echo "bench-pass: scale at $n replicas is not a no-op" >&2; exit 1; }
  : >"$dir/ps"; : >"$dir/lb"; : >"$dir/sc"; : >"$dir/st"; : >"$dir/he"; : >"$dir/pf"
  docker ps -q --filter "label=baton.project=$project" | xargs docker inspect -f '{{.NetworkSettings.IPAddress}}:8080' >"$dir/addrs"
  for _ in $(seq "$runs"); do
    secs docker ps -q --filter "label=baton.project=$project" >>"$dir/ps"; echo >>"$dir/ps"
    secs baton heal >>"$dir/he"; echo >>"$dir/he"
    secs baton lb render >>"$dir/lb"; echo >>"$dir/lb"
    secs baton scale >>"$dir/sc"; echo >>"$dir/sc"
    secs baton status >>"$dir/st"; echo >>"$dir/st"
    "$dir/probefloor" <"$dir/addrs" >>"$dir/pf"
  done
  ps=$(median <"$dir/ps")
  row="| $n | $ps"
  for f in lb sc st he; do
    m=$(median <"$dir/$f")
    row+=$(awk -v m="$m" -v p="$ps" 'BEGIN {printf " | %.3f s (%.2f×)", m, m / p}')
  done
  pf=$(median <"$dir/pf")
  row+=$(awk -v h="$(median <"$dir/he")" -v p="$ps" -v f="$pf" 'BEGIN {printf " | %.3f | %.2f×", f, h / (p + f)}')
  echo "$row |"
done
echo
echo "medians of $runs paired rounds (floor, heal, lb render, scale, status, probe floor in each); the probe floor is a minimal Go client's GET of every replica's /healthz, 256 at once (scripts/probefloor); one container list call per pass (TestOneListCallPerPass); heal probes every replica, the others reuse verdicts younger than health.interval (10s)"
