#!/usr/bin/env bash
# build-image.sh NAME:TAG [VERSION]: build the demo/test server image FROM
# scratch from testdata/app (no registry needed). VERSION (default: the tag)
# is baked in as an env var, so v1 and v2 are different images.
set -euo pipefail
ref=$1
version=${2:-${ref##*:}}
root=$(cd "$(dirname "$0")/.." && pwd)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/app" "$root/testdata/app"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY app /app
ENV VERSION=$version
EXPOSE 8080
ENTRYPOINT ["/app"]
DOCKERFILE
if ! out=$(DOCKER_BUILDKIT=0 docker build -q -t "$ref" "$ctx" 2>&1); then
  echo "$out" >&2
  exit 1
fi
echo "built $ref"
