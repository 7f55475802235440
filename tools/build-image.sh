#!/usr/bin/env bash
# Build the benchmark image with no network inside the build.
#
#   tools/build-image.sh [TAG]            TAG defaults to benchtrail:latest
#
# Makes the wheelhouse build/wheels here (pip wheel: benchtrail and every dependency,
# for this Python), then runs `docker build --network none` with the legacy builder, so
# it builds where the containers reach no package index. Environment:
#   BASE_IMAGE   the image to build on (default: the Dockerfile's, python:3.11-slim)
#   PYTHON       the Python that makes the wheels; its version must be the image's (python3)
#   REVISION     the org.opencontainers.image.revision label (default: CI_COMMIT_SHA, else git HEAD)
#   SOURCE       the org.opencontainers.image.source label (default: CI_PROJECT_URL, else the origin URL)
# Prints the image ID on stdout; the build's own output goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-benchtrail:latest}
python=${PYTHON:-python3}
revision=${REVISION:-${CI_COMMIT_SHA:-$(git rev-parse HEAD 2>/dev/null || true)}}
# A remote URL can carry a token (https://user:token@host/...): keep only host and path.
source=${SOURCE:-${CI_PROJECT_URL:-$(git remote get-url origin 2>/dev/null | sed -E 's#//[^/@]*@#//#' || true)}}
version=$("$python" -c 'import sys; sys.path.insert(0, "src"); import benchtrail; print(benchtrail.__version__)')

rm -rf build/wheels
echo "Building wheels for $("$python" --version 2>&1) into build/wheels" >&2
"$python" -m pip wheel --quiet --disable-pip-version-check . -w build/wheels >&2

args=(--network none --tag "$tag"
      --build-arg "REVISION=$revision" --build-arg "SOURCE=$source" --build-arg "VERSION=$version")
[ -n "${BASE_IMAGE:-}" ] && args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
echo "docker build ${args[*]} ." >&2
# DOCKER_BUILDKIT=0: the legacy builder, which needs no buildx plugin and no network.
DOCKER_BUILDKIT=0 docker build "${args[@]}" . >&2
docker image inspect --format '{{.Id}}' "$tag"
