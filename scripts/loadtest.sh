#!/usr/bin/env bash
# loadtest.sh: zero-downtime evidence for `baton scale`. While wrk sends
# traffic through nginx on 127.0.0.1 (and nowhere else), baton performs 10
# replica changes and 2 image rollouts; wrk then reports non-2xx responses
# and socket errors. Runs twice: clients sending `Connection: close`, and
# keep-alive clients. Then, for contrast, the naive kill-and-restart in
# place (the seeds' way) under the same load. Every load is bounded by
# wrk's -d and -c.
#
# Needs: bin/baton, images baton-demo:v1 and :v2 (make loadtest builds them),
# a Docker engine, nginx and wrk (scripts/ensure-engine.sh).
#
# Environment: LOAD_SECONDS (default 90), LOAD_CONNECTIONS (default 16).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dir=$root/.loadtest
port=18090
secs=${LOAD_SECONDS:-90}
conns=${LOAD_CONNECTIONS:-16}
rm -rf "$dir"
mkdir -p "$dir"
scripts/nginx-prefix.sh "$dir/nginx"
cleanup() {
  ids=$(docker ps -aq --filter label=baton.project=loadtest)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null
  nginx -s quit -p "$dir/nginx/" -c nginx.conf -e stderr 2>/dev/null || true
}
trap cleanup EXIT

spec() { # spec REPLICAS IMAGE
  cat >"$dir/baton.yaml" <<SPEC
project: loadtest
nginx:
  config: nginx/conf.d/baton.conf
  test: [nginx, -t, -q, -p, nginx/, -c, nginx.conf, -e, stderr]
  reload: [nginx, -s, reload, -p, nginx/, -c, nginx.conf, -e, stderr]
  listen: 127.0.0.1:$port
apps:
  - name: web
    image: $2
    pull: never
    port: 8080
    replicas: $1
    stop_grace: 5s
    drain: 1s
    lb: {path: /, method: round_robin, keepalive: 16}
    health: {type: http, path: /healthz, timeout: 1s, ready_timeout: 20s}
SPEC
}
baton() { bin/baton --spec "$dir/baton.yaml" --state "$dir/state.json" --lock-timeout 60s "$@"; }

# 10 replica changes and 2 image rollouts (the rollouts are changes 4 and 8).
plan=("3 v1" "1 v1" "4 v1" "4 v2" "2 v2" "5 v2" "2 v2" "3 v2" "3 v1" "1 v1" "4 v1" "2 v1")

run() { # run LABEL [wrk header args...]
  local label=$1; shift
  spec 2 baton-demo:v1
  baton scale >/dev/null
  wrk -t2 -c"$conns" -d"${secs}s" "$@" "http://127.0.0.1:$port/" >"$dir/wrk-$label.txt" 2>&1 &
  local wrk_pid=$!
  sleep 2
  local changes=0 rollouts=0 prev=v1
  for step in "${plan[@]}"; do
    set -- $step
    spec "$1" "baton-demo:$2"
    baton scale >>"$dir/baton-$label.txt"
    [ "$(docker ps -q --filter label=baton.project=loadtest | wc -l)" -eq "$1" ] || { echo "loadtest: scale to $1 did not converge" >&2; exit 1; }
    if [ "$2" != "$prev" ]; then rollouts=$((rollouts+1)); else changes=$((changes+1)); fi
    prev=$2
    sleep 1
  done
  if ! kill -0 "$wrk_pid" 2>/dev/null; then
    echo "loadtest: wrk ended before the changes did; raise LOAD_SECONDS" >&2
    exit 1
  fi
  wait "$wrk_pid"
  local total non2xx sockerr
  total=$(awk '/requests in/ {print $1}' "$dir/wrk-$label.txt")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$dir/wrk-$label.txt")
  sockerr=$(awk -F'[ ,]+' '/Socket errors:/ {print $4+$6+$8+$10}' "$dir/wrk-$label.txt")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$changes" "$rollouts" "$total" "${non2xx:-0}" "${sockerr:-0}"
  if [ "$label" = "connection-close" ] && { [ "${non2xx:-0}" != 0 ] || [ "${sockerr:-0}" != 0 ]; }; then
    failed=1
  fi
}

# naive: the seeds' way, for contrast in the same run. Two replicas on fixed
# ports behind the same nginx; each replica is killed and restarted in
# place, one after the other, 6 times in all, under the same load.
naive() {
  local label=naive-kill-restart ports=(18191 18192) ids=() i
  for p in "${ports[@]}"; do
    ids+=("$(docker run -d --label baton.project=loadtest -p 127.0.0.1:$p:8080 baton-demo:v1)")
  done
  cat >"$dir/nginx/conf.d/baton.conf" <<CONF
upstream naive { server 127.0.0.1:${ports[0]}; server 127.0.0.1:${ports[1]}; }
server { listen 127.0.0.1:$port; location / { proxy_pass http://naive; } }
CONF
  nginx -s reload -p "$dir/nginx/" -c nginx.conf -e stderr 2>/dev/null
  sleep 1
  wrk -t2 -c"$conns" -d20s -H "Connection: close" "http://127.0.0.1:$port/" >"$dir/wrk-$label.txt" 2>&1 &
  local wrk_pid=$!
  sleep 2
  for i in 0 1 2 3 4 5; do
    docker restart -t 0 "${ids[$((i % 2))]}" >/dev/null
    sleep 1
  done
  wait "$wrk_pid"
  docker rm -f "${ids[@]}" >/dev/null
  local total non2xx sockerr
  total=$(awk '/requests in/ {print $1}' "$dir/wrk-$label.txt")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$dir/wrk-$label.txt")
  sockerr=$(awk -F'[ ,]+' '/Socket errors:/ {print $4+$6+$8+$10}' "$dir/wrk-$label.txt")
  printf '| %s | 6 in-place restarts | - | %s | %s | %s |\n' "$label" "$total" "${non2xx:-0}" "${sockerr:-0}"
}

failed=0
echo "| clients | replica changes | image rollouts | requests | non-2xx | socket errors |"
echo "|---|---|---|---|---|---|"
run connection-close -H "Connection: close"
run keep-alive
ids=$(docker ps -aq --filter label=baton.project=loadtest)
[ -n "$ids" ] && docker rm -f $ids >/dev/null
rm -f "$dir/state.json"
naive
echo
echo "wrk -t2 -c$conns -d${secs}s through nginx on 127.0.0.1:$port; raw output in $dir/"
exit $failed
