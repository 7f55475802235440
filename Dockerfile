# The benchmark image: benchtrail, its dependencies and the default suite from bench/.
#
# It builds with no network inside the build: benchtrail and every dependency come from
# the wheelhouse build/wheels in the build context, which tools/build-image.sh makes on
# the host (the host's Python must be the image's Python version, e.g. 3.11 for both).
#
#   tools/build-image.sh                              # python:3.11-slim base
#   BASE_IMAGE=nvidia/cuda:12.4.1-runtime-ubuntu22.04 tools/build-image.sh benchtrail:cuda
#
# A GPU base needs python3 and python3-venv in it (Ubuntu 22.04 has Python 3.10: build
# the wheels with a 3.10 host Python, PYTHON=python3.10 tools/build-image.sh).
#
#   docker run --rm IMAGE                # runs the default suite: ENTRYPOINT benchtrail, CMD run
#   docker run --rm -v $PWD:/workspace IMAGE run bench/suite.toml
#
# Only plain Dockerfile instructions: the legacy builder (no BuildKit) builds it too.

ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS install
# The legacy builder keeps this stage as an untagged image (about 500 MB a build): the label
# lets `docker image prune --filter label=org.opencontainers.image.title=benchtrail-install` find it.
LABEL org.opencontainers.image.title="benchtrail-install"
COPY build/wheels /tmp/wheels
RUN python3 -m venv /opt/benchtrail/venv \
 && /opt/benchtrail/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels benchtrail \
 && /opt/benchtrail/venv/bin/benchtrail --version

FROM ${BASE_IMAGE}
ARG BASE_IMAGE
ARG SOURCE=""
ARG REVISION=""
ARG VERSION=""
LABEL org.opencontainers.image.title="benchtrail" \
      org.opencontainers.image.description="Continuous inference benchmarking: runs a benchtrail suite and writes one result record." \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# The record job runs git in this image. A base that has git (as the locally made one does)
# needs no network here; a slim Python base gets it from the distribution when it can.
RUN command -v git >/dev/null \
 || (apt-get update && apt-get install -y --no-install-recommends git ca-certificates \
     && rm -rf /var/lib/apt/lists/*) \
 || { echo "git is missing from ${BASE_IMAGE} and cannot be installed without network:" \
           "use a base image with git" >&2; exit 1; }

# The wheels stay in the first stage: only the installed venv comes over.
COPY --from=install /opt/benchtrail/venv /opt/benchtrail/venv
COPY bench /opt/benchtrail/bench

ENV PATH=/opt/benchtrail/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/benchtrail/venv \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BENCHTRAIL_SUITE=/opt/benchtrail/bench/suite.toml

WORKDIR /workspace
ENTRYPOINT ["benchtrail"]
CMD ["run"]
