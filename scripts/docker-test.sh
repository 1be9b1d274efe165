#!/usr/bin/env bash
# Builds the container image (Dockerfile) and checks it: the binary runs, as a
# non-root user, validates a config, and the image holds no example backends
# and no `demo` command. Not part of scripts/test.sh: it needs docker and its
# base images (rust:1-slim-bookworm, gcr.io/distroless/cc-debian12).
#
# Exit status: 0 passed, 1 failed, 77 skipped (no docker, or the base images
# cannot be pulled); a skip is printed as SKIP, never reported as a pass.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

image="${IMAGE:-switchboard:test}"
skip() {
    echo "SKIP: docker image test: $*" >&2
    exit 77
}
fail() {
    echo "FAIL: docker image test: $*" >&2
    exit 1
}

command -v docker >/dev/null 2>&1 || skip "docker is not installed"
docker info >/dev/null 2>&1 || skip "the docker daemon is not reachable"
for base in rust:1-slim-bookworm gcr.io/distroless/cc-debian12:nonroot; do
    docker image inspect "$base" >/dev/null 2>&1 || docker pull --quiet "$base" >/dev/null 2>&1 \
        || skip "base image $base cannot be pulled"
done

echo "==> docker build -t $image ."
DOCKER_BUILDKIT=1 docker build -t "$image" . || fail "the image does not build"

echo "==> checks"
user="$(docker image inspect -f '{{.Config.User}}' "$image")"
case "$user" in
    "" | root | 0 | 0:*) fail "the image runs as root (User=$user)" ;;
esac
docker run --rm "$image" --version | grep -q '^switchboard ' || fail "--version"
if docker run --rm "$image" demo >/dev/null 2>&1; then
    fail "the image has the demo command (built with the example backends)"
fi
docker run --rm -v "$PWD/config:/etc/switchboard:ro" "$image" \
    check --config /etc/switchboard/switchboard.yaml || fail "check of config/switchboard.yaml"
container="$(docker create "$image")"
trap 'docker rm -f "$container" >/dev/null 2>&1 || true' EXIT
files="$(docker export "$container" | tar -t)"
grep -q '^usr/local/bin/switchboard$' <<<"$files" || fail "no /usr/local/bin/switchboard"
if grep -E 'switchboard-(example|loadgen)|greeter|library-server' <<<"$files"; then
    fail "example backends in the image"
fi
size="$(docker image inspect -f '{{.Size}}' "$image")"
echo "image $image: user $user, $((size / 1024 / 1024)) MiB"
echo "PASS: docker image test"
