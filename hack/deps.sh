#!/usr/bin/env bash
# Installs, from Debian's packages, whatever tollgate needs to build, test and run its demo.
# Idempotent and silent when nothing is missing. Runs apt-get as root, or through sudo.
set -euo pipefail

packages=(
    gcc make cmake pkg-config git ca-certificates openssl
    libcurl4-openssl-dev libjson-c-dev libyaml-dev libssl-dev libwebsockets-dev libwebsockets-evlib-uv libuv1-dev
    libzstd-dev
    libcmocka-dev
    clang-format cppcheck
    python3 python3-kubernetes
    lua5.4
    nghttp2-server
    prometheus
    docker-registry skopeo apache2-utils
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}" >&2
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq >&2
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The sigstore-js test tooling (tests/sigstore): exactly the versions of the committed
# package-lock.json, with `npm ci` only, and only when node_modules is missing or older than
# the lock file. Tests never run npm.
sigstore_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/sigstore"
sigstore_stamp="$sigstore_dir/node_modules/.package-lock.json"
if [[ ! -e "$sigstore_stamp" || "$sigstore_dir/package-lock.json" -nt "$sigstore_stamp" ]]; then
    if ! command -v npm >/dev/null; then
        echo "deps: node 20 and npm are needed for tests/sigstore; install nodejs" >&2
        exit 1
    fi
    echo "deps: npm ci --prefix tests/sigstore" >&2
    npm ci --prefix "$sigstore_dir" --no-audit --no-fund --loglevel=error >&2
    touch "$sigstore_stamp"
fi

if ! command -v kubectl >/dev/null; then
    echo "deps: kubectl is not installed and is not in Debian's packages; install kubectl 1.32" >&2
    exit 1
fi
