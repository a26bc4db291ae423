#!/usr/bin/env bash
# build-image.sh NAME:TAG [VERSION] [healthcheck]: build the demo/test
# server image FROM scratch from testdata/app (no registry needed). VERSION
# (default: the tag) is baked in as an env var, so v1 and v2 are different
# images. With "healthcheck" the image declares a Docker HEALTHCHECK. The
# image is labelled ${BATON_IMAGE_LABEL} (default baton.test.shared=true:
# the images many tests share, which a test's host-wide gc excludes); an
# empty BATON_IMAGE_LABEL gives none (gc tests' own images).
set -euo pipefail
ref=$1
version=${2:-${ref##*:}}
hc=""
if [ "${3:-}" = healthcheck ]; then
  hc='HEALTHCHECK --interval=1s --timeout=2s --start-period=1s --retries=2 CMD ["/app", "check"]'
fi
root=$(cd "$(dirname "$0")/.." && pwd)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/app" "$root/testdata/app"
# A small layer of its own per version, so images differ on disk too (gc's
# reclaimed-space figure is measured in layers).
head -c 65536 /dev/zero | tr '\0' 'v' >"$ctx/version"
echo "$version" >>"$ctx/version"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY app /app
COPY version /version
ENV VERSION=$version
EXPOSE 8080
ENTRYPOINT ["/app"]
$hc
DOCKERFILE
if [ -n "${BATON_IMAGE_LABEL-baton.test.shared=true}" ]; then
  echo "LABEL ${BATON_IMAGE_LABEL-baton.test.shared=true}" >>"$ctx/Dockerfile"
fi
if ! out=$(DOCKER_BUILDKIT=0 docker build -q -t "$ref" "$ctx" 2>&1); then
  echo "$out" >&2
  exit 1
fi
echo "built $ref"
