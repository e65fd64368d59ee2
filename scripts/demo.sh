#!/bin/sh
# `make demo`: install the plugin from this checkout into a throw-away Helm 4 home (.demo/),
# bootstrap the bundled Harbor emulator with `helm harbor-mirror setup`, and show every fixture
# chart's image references before and after --post-renderer harbor-mirror.
#
# Environment: PYTHON (the project's venv Python: runs tests.support.helmbin and the Harbor emulator),
# HELM (a Helm 4 binary; default: the pinned test binary, fetched once).
set -eu

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
DEMO=$PWD/.demo
UPSTREAM=dp.apps.rancher.io
EMULATOR_PID=

on_exit() {
    status=$?
    [ -z "$EMULATOR_PID" ] || kill "$EMULATOR_PID" 2>/dev/null || true
    [ $status -eq 0 ] || echo "demo: failed; the Helm home is kept in $DEMO for a look" >&2
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

# The bundled Harbor emulator on loopback, with a loopback upstream registry standing in for
# dp.apps.rancher.io; prints "URL" then "upstream: URL USER TOKEN".
start_harbor() {
    "$PYTHON" -m tests.harbor_emulator --port 0 --fake-upstream >"$DEMO/emulator.out" 2>"$DEMO/emulator.log" &
    EMULATOR_PID=$!
    tries=0
    until [ "$(wc -l <"$DEMO/emulator.out")" -ge 2 ]; do
        tries=$((tries + 1))
        [ $tries -le 100 ] || { echo "demo: the Harbor emulator did not start (see $DEMO/emulator.log)" >&2; exit 1; }
        sleep 0.1
    done
    HARBOR_URL=$(sed -n 1p "$DEMO/emulator.out")
    # shellcheck disable=SC2046 # word splitting wanted: "upstream: URL USER TOKEN"
    set -- $(sed -n 2p "$DEMO/emulator.out")
    UPSTREAM_URL=$2 UPSTREAM_USER=$3 UPSTREAM_TOKEN=$4
}

# `setup` writes the config file the post-renderer reads from $HELM_CONFIG_HOME: after this the
# charts need nothing but --post-renderer harbor-mirror.
configure_harbor() {
    start_harbor
    echo "\$ helm harbor-mirror setup --harbor-url $HARBOR_URL --plain-http --upstream-url $UPSTREAM_URL --upstream-host $UPSTREAM --upstream-username $UPSTREAM_USER"
    HARBOR_MIRROR_HARBOR_PASSWORD=Harbor12345 HARBOR_MIRROR_UPSTREAM_TOKEN=$UPSTREAM_TOKEN \
        "$HELM" harbor-mirror setup --harbor-url "$HARBOR_URL" --plain-http --username admin \
        --upstream-url "$UPSTREAM_URL" --upstream-host "$UPSTREAM" --upstream-username "$UPSTREAM_USER"
    HARBOR_HOST=${HARBOR_URL#*://}
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
    HELM=${HELM:-$("$PYTHON" -m tests.support.helmbin helm4)}
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
