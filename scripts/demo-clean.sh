#!/usr/bin/env bash
# demo-clean.sh: remove the demo's containers, stop its nginx, delete .demo/.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
demo=$root/.demo
ids=$(docker ps -aq --filter label=baton.project=demo 2>/dev/null)
[ -n "$ids" ] && docker rm -f $ids >/dev/null
if [ -f "$demo/nginx/nginx.pid" ]; then
  nginx -s quit -p "$demo/nginx/" -c nginx.conf -e stderr 2>/dev/null || true
fi
rm -rf "$demo"
