#!/usr/bin/env bash
# swarm.sh up [N] | down | kill K | isolate K | rejoin K | status: a Docker Swarm of N nodes (default 3) on
# this machine, for baton's tests. Each node is its own dockerd in its own
# network, mount, UTS and PID namespaces; the nodes hang off a bridge that
# lives in a namespace of its own, on a private /24 used only inside these
# namespaces (no default route); a veth from the host onto the bridge lets
# tests reach host-mode published ports. Node 1 is the manager.
#
#   BATON_SWARM_DIR   state directory (default /run/baton-swarm)
#   BATON_SWARM_NET   the /24's first three octets (default 10.213.7)
#   BATON_SWARM_MEM   made-up memory sizes in MiB, one per node ("4096 2048 8192", 0 = the host's);
#                     each node's dockerd then reads a /proc/meminfo of that size
#                     (bind-mounted in the node's own mount namespace), and Swarm
#                     reports and schedules by it. Default: the host's memory.
#
# After `up`, node K's engine is unix://$DIR/nodeK.sock and its address is
# $NET.1K; the host's end of the bridge is $NET.254. `down` removes every
# process, namespace, link and directory `up` made. Facts: ../shared/docs/TESTBED.md.
set -euo pipefail
dir=${BATON_SWARM_DIR:-/run/baton-swarm}
net=${BATON_SWARM_NET:-10.213.7}
brns=baton-sw-br

node_ns() { echo "baton-sw-$1"; }
sock() { echo "$dir/node$1.sock"; }
dk() { docker -H "unix://$(sock "$1")" "${@:2}"; }

down() {
  if [ -d "$dir" ]; then
    # Killing a node's launcher (unshare --kill-child) kills its
    # docker-init, PID 1 of the node's PID namespace, and so everything in it.
    for pidfile in "$dir"/node*/launcher.pid; do
      [ -f "$pidfile" ] || continue
      kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    done
    for _ in $(seq 1 100); do
      pgrep -f "dockerd --config-file $dir/" >/dev/null || break
      sleep 0.1
    done
    for d in "$dir"/node*; do
      [ -d "$d" ] || continue
      umount -R "$d/exec" 2>/dev/null || true
      umount -R "$d/data" 2>/dev/null || true
    done
  fi
  ip link del baton-sw-host 2>/dev/null || true
  for ns in $(ip netns list 2>/dev/null | awk '/^baton-sw-/ {print $1}'); do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$dir"
  for cg in /sys/fs/cgroup/*/baton-swarm /sys/fs/cgroup/baton-swarm; do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

up() {
  local n=${1:-3}
  command -v ip >/dev/null || { apt-get install -y -qq iproute2 >/dev/null; }
  command -v docker-init >/dev/null || { echo "swarm: docker-init missing (apt-get install docker.io)" >&2; exit 1; }
  down
  mkdir -p "$dir"
  ip netns add "$brns"
  ip -n "$brns" link add br0 type bridge
  ip -n "$brns" link set br0 up
  ip -n "$brns" link set lo up
  # The host's leg onto the bridge.
  ip link add baton-sw-host type veth peer name host0
  ip link set host0 netns "$brns"
  ip -n "$brns" link set host0 master br0 up
  ip addr add "$net.254/24" dev baton-sw-host
  ip link set baton-sw-host up
  for k in $(seq 1 "$n"); do
    local ns d
    ns=$(node_ns "$k")
    d="$dir/node$k"
    mkdir -p "$d/data" "$d/exec"
    ip netns add "$ns"
    ip link add "sw$k" type veth peer name "sw$k-br"
    ip link set "sw$k" netns "$ns"
    ip link set "sw$k-br" netns "$brns"
    ip -n "$brns" link set "sw$k-br" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "sw$k" name eth0
    ip -n "$ns" addr add "$net.1$k/24" dev eth0
    ip -n "$ns" link set eth0 up
    local mem premount=""
    mem=$(echo "${BATON_SWARM_MEM:-}" | awk -v k="$k" '{print $k}')
    if [ -n "$mem" ] && [ "$mem" != 0 ]; then
      awk -v kb=$((mem * 1024)) '/^(MemTotal|MemFree|MemAvailable):/ {printf "%-16s%8d kB\n", $1, kb; next} {print}' /proc/meminfo >"$d/meminfo"
      premount="mount --bind $d/meminfo /proc/meminfo; "
    fi
    cat >"$d/daemon.json" <<JSON
{"deprecated-key-path": "$d/key.json", "iptables": true, "storage-driver": "overlay2"}
JSON
    # setsid: the node must outlive the shell that started it.
    setsid nsenter --net="/run/netns/$ns" -- unshare --mount --uts --pid --fork --kill-child --mount-proc --propagation private -- \
      docker-init -- sh -c "hostname node$k; ${premount}exec dockerd --config-file $d/daemon.json --data-root $d/data --exec-root $d/exec \
        --pidfile $d/dockerd.pid -H unix://$(sock "$k") --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent /baton-swarm/node$k" \
      >"$d/log" 2>&1 </dev/null &
    echo $! >"$d/launcher.pid"
  done
  # docker-init is PID 1 of each node's PID namespace: find its host PID.
  for k in $(seq 1 "$n"); do
    local d="$dir/node$k"
    for _ in $(seq 1 100); do
      if dk "$k" info >/dev/null 2>&1; then break; fi
      sleep 0.1
    done
    dk "$k" info >/dev/null 2>&1 || { echo "swarm: node$k did not start; log:" >&2; tail -20 "$d/log" >&2; exit 1; }
  done
  dk 1 swarm init --advertise-addr "$net.11" --listen-addr "$net.11:2377" --default-addr-pool 10.214.0.0/16 \
    --dispatcher-heartbeat 1s >/dev/null
  local token
  token=$(dk 1 swarm join-token -q worker)
  for k in $(seq 2 "$n"); do
    dk "$k" swarm join --token "$token" --advertise-addr "$net.1$k" --listen-addr "$net.1$k:2377" "$net.11:2377" >/dev/null
  done
  for _ in $(seq 1 100); do
    ready=$(dk 1 node ls --format '{{.Status}}' | grep -c Ready || true)
    [ "$ready" = "$n" ] && break
    sleep 0.2
  done
  dk 1 node ls
}

# kill K: kill node K's whole namespace (its dockerd and containers), as a
# machine that died; Swarm marks it Down after a few heartbeats.
kill_node() {
  local d="$dir/node$1"
  [ -f "$d/launcher.pid" ] || { echo "swarm: no node$1" >&2; exit 1; }
  kill -9 "$(cat "$d/launcher.pid")"
  for _ in $(seq 1 50); do
    dk "$1" info >/dev/null 2>&1 || break
    sleep 0.1
  done
}

# isolate K: node K's network drops every packet in and out (a partition:
# connections to it time out, its tasks stay up, Swarm marks it Down after
# a few heartbeats); rejoin K undoes it. The rules sit in the raw table of
# the node's own namespace, which its dockerd never touches.
isolate() {
  local ns
  ns=$(node_ns "$1")
  ip netns exec "$ns" iptables -t raw -I PREROUTING -i eth0 -j DROP
  ip netns exec "$ns" iptables -t raw -I OUTPUT -o eth0 -j DROP
}

rejoin() {
  local ns
  ns=$(node_ns "$1")
  while ip netns exec "$ns" iptables -t raw -D PREROUTING -i eth0 -j DROP 2>/dev/null; do :; done
  while ip netns exec "$ns" iptables -t raw -D OUTPUT -o eth0 -j DROP 2>/dev/null; do :; done
}

status() {
  dk 1 node ls 2>/dev/null || echo "no swarm"
}

case "${1:-}" in
  up) up "${2:-3}" ;;
  down) down ;;
  kill) kill_node "$2" ;;
  isolate) isolate "$2" ;;
  rejoin) rejoin "$2" ;;
  status) status ;;
  *) echo "usage: $0 up [N] | down | kill K | isolate K | rejoin K | status" >&2; exit 2 ;;
esac
