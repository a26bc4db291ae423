#!/usr/bin/env bash
# loadtest.sh [nginx|https|haproxy]: zero-downtime evidence for `baton
# scale`. While wrk sends traffic through the balancer on 127.0.0.1 (and
# nowhere else), baton performs 10 replica changes and 2 image rollouts;
# wrk then reports non-2xx responses and socket errors. Runs twice: clients
# sending `Connection: close`, and keep-alive clients. With nginx (the
# default) it then measures, for contrast, the naive kill-and-restart in
# place (the seeds' way) under the same load. Every load is bounded by
# wrk's -d and -c.
#
#   nginx    plain HTTP through nginx on 127.0.0.1:18090
#   https    HTTPS through nginx on 127.0.0.1:18443 (a certificate from a CA
#            made here with openssl; plain HTTP redirects)
#   haproxy  plain HTTP through haproxy -W on 127.0.0.1:18090, reloaded by
#            SIGUSR2 to its master
#
# Needs: bin/baton, images baton-demo:v1 and :v2 (make loadtest builds them),
# a Docker engine, nginx, haproxy, openssl and wrk (scripts/ensure-engine.sh).
#
# Environment: LOAD_SECONDS (default 90, haproxy 150), LOAD_CONNECTIONS
# (default 16).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-nginx}
case "$mode" in nginx|https|haproxy) ;; *) echo "usage: loadtest.sh [nginx|https|haproxy]" >&2; exit 2;; esac
dir=$root/.loadtest
port=18090
tlsport=18443
secs=${LOAD_SECONDS:-90}
conns=${LOAD_CONNECTIONS:-16}
drain=1s
rm -rf "$dir"
mkdir -p "$dir"
haproxy_pid=
if [ "$mode" = haproxy ]; then
  # HAProxy's reload is asynchronous and its old workers keep accepting
  # until the new ones run (0.2-0.6 s here): drain covers it, and the 12
  # changes take longer.
  drain=2s
  secs=${LOAD_SECONDS:-150}
  mkdir -p "$dir/haproxy/conf.d"
  cat >"$dir/haproxy/base.cfg" <<CFG
global
    pidfile $dir/haproxy/haproxy.pid
    stats socket $dir/haproxy/admin.sock mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
CFG
  haproxy -W -f "$dir/haproxy/base.cfg" -f "$dir/haproxy/conf.d/" >"$dir/haproxy/log" 2>&1 &
  haproxy_pid=$!
  sleep 1
else
  scripts/nginx-prefix.sh "$dir/nginx"
fi
if [ "$mode" = https ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/ca.key" -out "$dir/ca.crt" \
    -days 2 -subj "/CN=baton loadtest CA" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/web.key" -out "$dir/web.csr" \
    -subj /CN=loadtest.example 2>/dev/null
  printf 'subjectAltName=DNS:loadtest.example\n' >"$dir/ext.cnf"
  openssl x509 -req -in "$dir/web.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -out "$dir/web.crt" \
    -days 2 -extfile "$dir/ext.cnf" 2>/dev/null
fi
cleanup() {
  ids=$(docker ps -aq --filter label=baton.project=loadtest)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null
  if [ -n "$haproxy_pid" ]; then
    kill "$haproxy_pid" 2>/dev/null || true
  else
    nginx -s quit -p "$dir/nginx/" -c nginx.conf -e stderr 2>/dev/null || true
  fi
}
trap cleanup EXIT

spec() { # spec REPLICAS IMAGE
  local balancer lb="{path: /, method: round_robin, keepalive: 16}"
  case "$mode" in
  haproxy) balancer="  kind: haproxy
  config: haproxy/conf.d/baton.cfg
  test: [haproxy, -c, -q, -f, haproxy/base.cfg, -f, haproxy/conf.d/]
  reload: [sh, -c, \"kill -USR2 $haproxy_pid\"]
  listen: 127.0.0.1:$port" ;;
  *) balancer="  config: nginx/conf.d/baton.conf
  test: [nginx, -t, -q, -p, nginx/, -c, nginx.conf, -e, stderr]
  reload: [nginx, -s, reload, -p, nginx/, -c, nginx.conf, -e, stderr]
  listen: 127.0.0.1:$port" ;;
  esac
  if [ "$mode" = https ]; then
    balancer="$balancer
  listen_tls: 127.0.0.1:$tlsport"
    lb="{host: loadtest.example, default: true, method: round_robin, keepalive: 16, tls: {cert: web.crt, key: web.key}}"
  fi
  cat >"$dir/baton.yaml" <<SPEC
project: loadtest
nginx:
$balancer
apps:
  - name: web
    image: $2
    pull: never
    port: 8080
    replicas: $1
    stop_grace: 5s
    drain: $drain
    lb: $lb
    health: {type: http, path: /healthz, timeout: 1s, ready_timeout: 20s}
SPEC
}
url=http://127.0.0.1:$port/
# wrk cannot --resolve: it asks for 127.0.0.1, and the host is the default
# server, whose certificate nginx presents for any name.
[ "$mode" = https ] && url=https://127.0.0.1:$tlsport/
baton() { bin/baton --spec "$dir/baton.yaml" --state "$dir/state.json" --lock-timeout 60s "$@"; }

# 10 replica changes and 2 image rollouts (the rollouts are changes 4 and 8).
plan=("3 v1" "1 v1" "4 v1" "4 v2" "2 v2" "5 v2" "2 v2" "3 v2" "3 v1" "1 v1" "4 v1" "2 v1")

run() { # run LABEL [wrk header args...]
  local label=$1; shift
  spec 2 baton-demo:v1
  baton scale >/dev/null
  # The balancer opens a new listener after its reload command returned.
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
  if [ "$mode" = https ]; then
    sleep 1
    curl -sS --http2 --cacert "$dir/ca.crt" --resolve "loadtest.example:$tlsport:127.0.0.1" "https://loadtest.example:$tlsport/" | grep -q '^hello from' \
      || { echo "loadtest: HTTPS through nginx does not verify or answer" >&2; exit 1; }
  fi
  wrk -t2 -c"$conns" -d"${secs}s" "$@" "$url" >"$dir/wrk-$label.txt" 2>&1 &
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
[ "$mode" = nginx ] && naive
echo
echo "$mode: wrk -t2 -c$conns -d${secs}s to $url; raw output in $dir/"
exit $failed
