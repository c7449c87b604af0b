#!/usr/bin/env bash
# Build the sandbox's tools from Go modules (never a downloaded binary) into
# a cache outside the repo, so CI's fresh clone on the same machine reuses
# them. Prints the bin directory on its last line.
#
#   pulumi                      the Pulumi CLI, at @pulumi/pulumi's version
#   pulumi-resource-kubernetes  at @pulumi/kubernetes' version
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#   etcd, kwok
#   pulumi-language-nodejs      a link to our stand-in (sandbox/plugins), not a build
#
# A first build takes tens of minutes on two cores; later runs find the cache.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
tools="$here/tools"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
# Go is installed under /usr/local/go on these machines; a shell without it on
# PATH (a bare CI environment) still finds it.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
    echo "build-tools: the sandbox's tools are built from Go modules and need the go command on PATH" >&2
    exit 2
fi

pulumi_version="3.248.0"
provider_version="4.25.0"
kube_version="1.34.2"

# Each tool module is cached under a key of its own inputs (module files,
# our main, the Go toolchain), so changing one module rebuilds only its tools.
# bin/ holds links to the current build of each tool.
root="${MLOPS_SANDBOX_CACHE:-$HOME/.cache/mlops-rollback/sandbox}"
module_dir() { # module -> its cache dir
    local key
    key="$( (cat "$tools/$1"/go.mod "$tools/$1"/go.sum "$tools/$1"/*.go; go version) | sha256sum | cut -c1-12)"
    echo "$root/$1-$key"
}
bin="$root/bin-pulumi-${pulumi_version}_k8s-provider-${provider_version}_k8s-${kube_version}"
mkdir -p "$bin"

step() { printf '[build-tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

build() { # name, module dir, go build args (without -o)...
    local name="$1" dir="$2"
    shift 2
    local out
    out="$(module_dir "$dir")"
    if [[ -x "$out/$name" ]]; then
        step "$name: cached"
    else
        local started=$SECONDS
        step "$name: building (a first build can take several minutes)..."
        mkdir -p "$out"
        (cd "$tools/$dir" && go build -trimpath -o "$out/$name" "$@")
        step "$name: built in $((SECONDS - started))s"
    fi
    ln -sfn "$out/$name" "$bin/$name"
}

# A pulumi already on PATH at the right version is used as is.
if command -v pulumi >/dev/null 2>&1 && [[ "$(pulumi version 2>/dev/null)" == "v${pulumi_version}" ]]; then
    ln -sfn "$(command -v pulumi)" "$bin/pulumi"
else
    build pulumi pulumi \
        -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${pulumi_version}" \
        github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
fi

if [[ ! -f "$tools/kubernetes-provider/schema.json" ]]; then
    # `go mod download` fetches the module when the cache is empty and prints
    # where it is; `go list -m -f {{.Dir}}` prints nothing for a module that
    # is not in the cache yet, which only an earlier build would have filled.
    module="$(cd "$tools/kubernetes-provider" && go mod download -json github.com/pulumi/pulumi-kubernetes/provider/v4 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
    if [[ -z "$module" || ! -d "$module" ]]; then
        echo "build-tools: could not download github.com/pulumi/pulumi-kubernetes/provider/v4 (is the Go module proxy reachable?)" >&2
        exit 1
    fi
    install -m 0644 "$module/cmd/pulumi-resource-kubernetes/schema.json" "$module/cmd/pulumi-resource-kubernetes/terraform-mapping.json" "$tools/kubernetes-provider/"
fi
build pulumi-resource-kubernetes kubernetes-provider \
    -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${provider_version}" .

for name in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    build "$name" kube "k8s.io/kubernetes/cmd/$name"
done
build etcd etcd go.etcd.io/etcd/server/v3
build kwok kwok sigs.k8s.io/kwok/cmd/kwok

# The stand-in Node.js language host (test tooling, see its header) beside
# our own pulumi build (the engine looks for a bundled plugin next to its
# resolved executable first; found only on PATH, every command warns). A
# pulumi of the user's own is left alone: the sandbox's PATH has the stand-in.
pulumi_dir="$(dirname "$(readlink -f "$bin/pulumi")")"
if [[ "$pulumi_dir" == "$root"/* ]]; then
    ln -sfn "$here/plugins/pulumi-language-nodejs" "$pulumi_dir/pulumi-language-nodejs"
fi

step "all tools in $bin"
echo "$bin"
