#!/usr/bin/env bash
# ensure-engine.sh: make a Docker engine, nginx, wrk, haproxy, openssl, curl
# and systemd-analyze available on a fresh Debian machine, as root. Installs
# docker.io, nginx, wrk, haproxy (the HAProxy template is run for real),
# openssl and curl (the TLS tests make their CA and certificates and check
# HTTPS with HTTP/2) and systemd (to verify the shipped units) with apt when
# they are missing, and starts a private dockerd when none answers on DOCKER_HOST
# (default unix:///var/run/docker.sock). Idempotent.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v nginx   >/dev/null 2>&1 || need+=(nginx)
command -v wrk     >/dev/null 2>&1 || need+=(wrk)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl    >/dev/null 2>&1 || need+=(curl)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-engine: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

sock=${DOCKER_HOST:-unix:///var/run/docker.sock}
sock=${sock#unix://}
if docker -H "unix://$sock" info >/dev/null 2>&1; then
  exit 0
fi

dir=${BATON_ENGINE_DIR:-/var/lib/baton-engine}
mkdir -p "$dir"
echo "ensure-engine: starting dockerd on $sock (data in $dir)" >&2
# setsid: the daemon must outlive make and the shell that started it.
setsid dockerd --host "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" \
  --pidfile "$dir/dockerd.pid" >"$dir/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 1 60); do
  if docker -H "unix://$sock" info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.5
done
echo "ensure-engine: dockerd did not answer on $sock within 30s; last log lines:" >&2
tail -n 20 "$dir/dockerd.log" >&2
exit 1
