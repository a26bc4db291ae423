#!/usr/bin/env bash
# demo.sh: the README's first command. Builds baton and the demo image,
# makes sure a Docker engine and nginx run (installing them on a fresh
# Debian machine), runs one `baton scale` and one `baton lb render` on
# testdata/demo/baton.yaml, prints the status table and shows requests
# alternating between replicas through nginx on 127.0.0.1:18080.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/ensure-engine.sh
go build -o bin/baton .
scripts/build-image.sh baton-demo:v1 >/dev/null
demo=$root/.demo
mkdir -p "$demo"
cp testdata/demo/baton.yaml "$demo/baton.yaml"
scripts/nginx-prefix.sh "$demo/nginx"
baton() { bin/baton --spec "$demo/baton.yaml" --state "$demo/state.json" "$@"; }

echo "== baton scale"
baton scale
echo "== baton lb render (quiet: scale already left nginx consistent)"
baton lb render
echo "== baton status"
baton status
echo "== six requests through nginx on 127.0.0.1:18080"
for _ in 1 2 3 4 5 6; do
  curl -sS --max-time 2 http://127.0.0.1:18080/
done
echo "== a second scale is a no-op (exit $(baton scale >/dev/null; echo $?), no output)"
echo "clean up with: make demo-clean"
