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

bench_cleanup() {
  local ids
  ids=$(docker ps -aq --filter "label=baton.project=$project")
  [ -n "$ids" ] && docker rm -f $ids >/dev/null
  rm -rf "$dir"
}

baton() { "$root/bin/baton" --spec "$dir/baton.yaml" --state "$dir/state.json" "$@"; }

need_gnu_time() {
  command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
}
