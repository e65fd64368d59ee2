#!/bin/sh
# `make demo`: install the plugin from this checkout into a throw-away Helm 4 home (.demo/) and
# show every fixture chart's image references before and after --post-renderer harbor-mirror.
#
# Environment: PYTHON (runs tests.helmbin, stdlib only), HELM (a Helm 4 binary;
# default: the pinned test binary, fetched once), DEMO_HARBOR_HOST (default harbor.demo.local).
set -eu

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
DEMO=$PWD/.demo
HARBOR_HOST=${DEMO_HARBOR_HOST:-harbor.demo.local}
UPSTREAM=dp.apps.rancher.io

on_exit() {
    [ $? -eq 0 ] || echo "demo: failed; the Helm home is kept in $DEMO for a look" >&2
}

fresh_helm_home() {
    rm -rf "$DEMO"
    mkdir -p "$DEMO"
    export HELM_CONFIG_HOME="$DEMO/config" HELM_DATA_HOME="$DEMO/data" HELM_CACHE_HOME="$DEMO/cache"
    export HELM_PLUGINS="$HELM_DATA_HOME/plugins" KUBECONFIG="$DEMO/no-cluster/kubeconfig"
    unset HARBOR_MIRROR_HARBOR_HOST HARBOR_MIRROR_PROJECT HARBOR_MIRROR_CONFIG
}

install_plugin() {
    echo "\$ helm plugin install $PWD"
    "$HELM" plugin install "$PWD"
}

# Where Harbor comes from. Today: the post-renderer is told the host through its environment.
# Once `setup` and the Harbor emulator are wired in, start the emulator here and run
# `helm harbor-mirror setup ...` against it instead: it writes the config file the post-renderer
# reads from $HELM_CONFIG_HOME, and this export goes away.
configure_harbor() {
    export HARBOR_MIRROR_HARBOR_HOST="$HARBOR_HOST"
    echo "Harbor host: $HARBOR_HOST (HARBOR_MIRROR_HARBOR_HOST; setup will write it to the config file)"
}

# Lines naming HOST as a registry host (so not `notdp.apps.rancher.io`), trimmed, in output order.
lines_naming() {
    host_pattern=$(printf '%s' "$1" | sed 's/[.]/[.]/g')
    grep -E "(^|[^A-Za-z0-9.-])$host_pattern([^A-Za-z0-9.-]|\$)" "$2" |
        sed "s/^[[:space:]]*\\(- \\)*//" | cut -c1-110 || true
}

show_chart() {
    chart=$1
    before=$DEMO/$(basename "$chart").before.yaml
    after=$DEMO/$(basename "$chart").after.yaml
    "$HELM" template demo "$chart" -n demo-ns >"$before"
    "$HELM" template demo "$chart" -n demo-ns --post-renderer harbor-mirror >"$after"
    echo
    echo "== $chart: lines naming $UPSTREAM, before -> after --post-renderer harbor-mirror"
    lines_naming "$UPSTREAM" "$before" >"$before.lines"
    lines_naming "$HARBOR_HOST" "$after" >"$after.lines"
    paste -d '\n' "$before.lines" "$after.lines" | sed 'n; s/^/    -> /' | sed 's/^/  /'
    echo "  left naming $UPSTREAM after: $(lines_naming "$UPSTREAM" "$after" | wc -l)"
}

main() {
    trap on_exit EXIT
    HELM=${HELM:-$("$PYTHON" -m tests.helmbin helm4)}
    fresh_helm_home
    install_plugin
    configure_harbor
    for chart in charts-fixtures/*/; do
        [ -f "$chart/Chart.yaml" ] && show_chart "${chart%/}"
    done
    echo
    echo "Whole manifests: $DEMO/*.before.yaml and *.after.yaml"
}

main
