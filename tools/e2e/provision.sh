#!/usr/bin/env bash
# Install and start what the end-to-end tests need, on a Debian 12 machine, as root.
#
#   tools/e2e/provision.sh
#
# Idempotent: every step checks first and skips what is already there, so a second run
# takes seconds. On a fresh machine it takes about two minutes, most of it debootstrap
# and npm building gitlab-ci-local's native modules. No container registry is needed:
#   - a Docker engine (docker.io), started in the background (log: /var/log/dockerd.log);
#   - the base image BASE_IMAGE (benchtrail-base:bookworm), a debootstrap of Debian
#     bookworm from the mirror apt already uses, with python3, venv, pip, git and rsync;
#   - the same image tagged firecow/gitlab-ci-local-util:latest, the helper image that
#     gitlab-ci-local's docker executor runs (it needs bash and rsync for artifacts);
#   - gitlab-ci-local 4.56.2 (later releases need Node 22);
#   - Debian's chromium, which the report site's browser test drives headless.
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-benchtrail-base:bookworm}
UTIL_IMAGE=firecow/gitlab-ci-local-util:latest
GCL_VERSION=4.56.2
SUITE=bookworm

say() { printf '[provision %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (apt-get, dockerd and debootstrap need it)"
started=$SECONDS

# --- packages ---------------------------------------------------------------------
missing=()
for pair in dockerd:docker.io rsync:rsync debootstrap:debootstrap chromium:chromium; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "docker.io, rsync, debootstrap and chromium already installed"
fi

# --- the Docker engine ------------------------------------------------------------
if docker info >/dev/null 2>&1; then
    say "dockerd already answers"
else
    say "starting dockerd (log: /var/log/dockerd.log)"
    # setsid: the engine outlives this script and the shell that ran it.
    setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { tail -n 20 /var/log/dockerd.log >&2; die "dockerd did not answer within 60 s"; }
    say "dockerd answers"
fi

# --- the base image ---------------------------------------------------------------
debian_mirror() {
    # The first URI apt uses for the suite itself (not -security, -updates), from the
    # deb822 sources or the one-line format; deb.debian.org when none is found.
    local uri=""
    if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
        uri=$(awk -v suite="$SUITE" '
            /^[[:space:]]*$/ { if (uris != "" && ok) { print uris; exit } uris = ""; ok = 0; next }
            /^URIs:/ { uris = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
            END { if (uris != "" && ok) print uris }
        ' /etc/apt/sources.list.d/*.sources | head -n 1)
    fi
    if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
        uri=$(awk -v suite="$SUITE" '$1 == "deb" {
                  n = 2; if ($2 ~ /^\[/) { while ($n !~ /\]$/) n++; n++ }
                  if ($(n + 1) == suite) { print $n; exit } }' /etc/apt/sources.list)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "$BASE_IMAGE already exists"
else
    mirror=$(debian_mirror)
    rootfs=$(mktemp -d /var/tmp/benchtrail-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    say "debootstrap $SUITE from $mirror"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,git,rsync \
        "$SUITE" "$rootfs" "$mirror" >/var/log/benchtrail-debootstrap.log 2>&1 \
        || { tail -n 20 /var/log/benchtrail-debootstrap.log >&2; die "debootstrap failed"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    say "importing it as $BASE_IMAGE"
    tar -C "$rootfs" --numeric-owner -c . | docker import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
fi

if [ "$(docker image inspect -f '{{.Id}}' "$UTIL_IMAGE" 2>/dev/null)" != "$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")" ]; then
    say "tagging $BASE_IMAGE as $UTIL_IMAGE"
    docker tag "$BASE_IMAGE" "$UTIL_IMAGE"
else
    say "$UTIL_IMAGE already tagged"
fi

# --- gitlab-ci-local --------------------------------------------------------------
if [ "$(gitlab-ci-local --version 2>/dev/null)" = "$GCL_VERSION" ]; then
    say "gitlab-ci-local $GCL_VERSION already installed"
else
    command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js 18 or 20 first"
    say "npm install -g gitlab-ci-local@$GCL_VERSION"
    npm install -g --no-fund --no-audit --loglevel=error "gitlab-ci-local@$GCL_VERSION" >&2
fi

say "ready in $((SECONDS - started)) s: $(docker version -f 'engine {{.Server.Version}}'), $BASE_IMAGE, gitlab-ci-local $(gitlab-ci-local --version), $(chromium --version 2>/dev/null)"
