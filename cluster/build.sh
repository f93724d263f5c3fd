#!/usr/bin/env bash
# Build the local control plane's binaries once and cache them outside the tree.
#
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   etcd                                                             (go.etcd.io/etcd/server/v3)
#   kueue                                                            (sigs.k8s.io/kueue)
#
# Versions: cluster/versions.env; each component's Go module (require + go.sum) under
# cluster/build/<component>/. The cache folder is named by a hash of versions.env and the
# Go version, and each binary is stamped with its module's hash, so changing a pin builds
# anew and an unchanged checkout reuses the binaries.
# Prints the bin folder on stdout (everything else goes to stderr).
#
# Environment: TUNINGSWEEP_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/tuningsweep).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${TUNINGSWEEP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tuningsweep}"
log() { printf 'cluster/build: %s\n' "$*" >&2; }

command -v go >/dev/null || { log "error: Go is not installed (needs Go 1.26 or newer)"; exit 1; }
# shellcheck source=versions.env
. "$here/versions.env"
key="$( { grep -v "^#" "$here/versions.env"; go env GOVERSION GOARCH; } | sha256sum | cut -c1-16)"
bin="$cache_root/cluster/$key/bin"
mkdir -p "$bin"
# Each binary also records the hash of its own module (go.mod + go.sum): changing one
# component's pins rebuilds that component only.
module_key() { grep -hv "^//" "$here/build/$1/go.mod" "$here/build/$1/go.sum" | sha256sum | cut -c1-16; }

# component  build-folder  package  binary-name
targets=(
    "kubernetes k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver"
    "kubernetes k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager"
    "kubernetes k8s.io/kubernetes/cmd/kube-scheduler kube-scheduler"
    "kubernetes k8s.io/kubernetes/cmd/kubectl kubectl"
    "etcd go.etcd.io/etcd/server/v3 etcd"
    "kueue sigs.k8s.io/kueue/cmd/kueue kueue"
)
for target in "${targets[@]}"; do
    read -r folder package name <<<"$target"
    stamp="$(module_key "$folder")"
    if [ -x "$bin/$name" ] && [ "$(cat "$bin/.$name.key" 2>/dev/null)" = "$stamp" ]; then
        continue
    fi
    log "building $name ($package); the first build takes minutes, later ones are cached"
    start=$SECONDS
    # -trimpath and no DWARF: smaller binaries, and the same bytes from any checkout path.
    ldflags="-s -w"
    if [ "$folder" = kubernetes ]; then
        # What Kubernetes' own build stamps in: without it the server reports
        # v0.0.0-master, which clients such as Kueue refuse to parse.
        v="k8s.io/component-base/version"
        major="${KUBERNETES_VERSION%%.*}" minor="${KUBERNETES_VERSION#*.}"
        ldflags+=" -X $v.gitVersion=v$KUBERNETES_VERSION -X $v.gitMajor=$major"
        ldflags+=" -X $v.gitMinor=${minor%%.*} -X $v.gitTreeState=clean"
        ldflags+=" -X $v.buildDate=1970-01-01T00:00:00Z"
    fi
    (cd "$here/build/$folder" &&
        go build -trimpath -ldflags="$ldflags" -o "$bin/.$name.new" "$package")
    mv -f "$bin/.$name.new" "$bin/$name"
    echo "$stamp" >"$bin/.$name.key"
    log "built $name in $((SECONDS - start)) s"
done
echo "$bin"
