#!/usr/bin/env bash
# ensure-engine.sh: make a Docker engine, nginx, wrk, haproxy, openssl, curl
# and systemd-analyze available on a fresh Debian machine, as root. Installs
# docker.io, nginx, wrk, haproxy (the HAProxy template is run for real),
# openssl and curl (the TLS tests make their CA and certificates and check
# HTTPS with HTTP/2), systemd (to verify the shipped units), zsh and fish (the
# completion tests run real shells), openssh-server (the ssh:// endpoint test
# runs a loopback-only sshd of its own), jq (the JSON-output tests parse with
# it) and man-db (the man page test renders it) with apt when they are
# missing, and starts a private dockerd when none answers on DOCKER_HOST
# (default unix:///var/run/docker.sock). Idempotent. No sshd is started here:
# the tests start their own on 127.0.0.1.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v nginx   >/dev/null 2>&1 || need+=(nginx)
command -v wrk     >/dev/null 2>&1 || need+=(wrk)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl    >/dev/null 2>&1 || need+=(curl)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v zsh     >/dev/null 2>&1 || need+=(zsh)
command -v fish    >/dev/null 2>&1 || need+=(fish)
command -v jq      >/dev/null 2>&1 || need+=(jq)
command -v man     >/dev/null 2>&1 || need+=(man-db)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh     >/dev/null 2>&1 || need+=(openssh-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-engine: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # No package may start its service here (openssh-server would listen on
  # every address): a policy-rc.d that denies it, unless one exists.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
  fi
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
  if [ -n "$policy" ]; then rm -f "$policy"; fi
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
