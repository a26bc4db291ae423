# bench-lib.sh: sourced by the bench-*.sh scripts (not run on its own).
#
# bench_setup PROJECT makes a temporary directory ($dir) for the spec and
# the state, and on exit removes the project's containers and the
# directory. baton runs bin/baton on that spec and state. need_gnu_time
# installs GNU time when it is missing.

bench_setup() {
  project=$1
  dir=$(mktemp -d)
  trap bench_cleanup EXIT
}

# bench_neigh N: every replica is an ARP neighbour of the host; past the
# kernel's gc_thresh3 (default 1,024) the host drops packets to new ones
# and probes time out (baton doctor's neighbours check). Raise the limits
# for N replicas as `baton doctor` hints; bench_cleanup puts them back.
neigh=/proc/sys/net/ipv4/neigh/default
bench_neigh() {
  local n=$1
  [ -n "${neigh_saved:-}" ] || neigh_saved="$(cat $neigh/gc_thresh1) $(cat $neigh/gc_thresh2) $(cat $neigh/gc_thresh3)"
  if [ "$(cat $neigh/gc_thresh2)" -le "$n" ]; then
    echo "$n" >$neigh/gc_thresh1
    echo $((2 * n)) >$neigh/gc_thresh2
    echo $((4 * n)) >$neigh/gc_thresh3
  fi
}

bench_cleanup() {
  local ids
  if [ -n "${neigh_saved:-}" ]; then
    set -- $neigh_saved
    echo "$1" >$neigh/gc_thresh1; echo "$2" >$neigh/gc_thresh2; echo "$3" >$neigh/gc_thresh3
  fi
  ids=$(docker ps -aq --filter "label=baton.project=$project")
  [ -n "$ids" ] && docker rm -f $ids >/dev/null
  rm -rf "$dir"
}

baton() { "$root/bin/baton" --spec "$dir/baton.yaml" --state "$dir/state.json" "$@"; }

need_gnu_time() {
  command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
}
