#!/usr/bin/env bash
# The harbor-mirror Config Management Plugin's steps, `harbor-mirror-cmp init|generate`, run by
# plugin.yaml in the application's source directory. Everything the chart needs comes through
# Harbor: its dependencies (`harbor-mirror dependency build`), a chart named by the app's CHART
# (`harbor-mirror pull`), and every image reference in the output (`harbor-mirror postrender`).
set -euo pipefail
shopt -s inherit_errexit

fail() {
    echo "harbor-mirror CMP: $*" >&2
    exit 2
}

# The app's ARGOCD_ENV_<NAME> overrides the sidecar's HARBOR_MIRROR_<NAME> default, except where
# Harbor is: the sidecar signs in there with the robot's credentials, so HARBOR_HOST is the
# sidecar's own (an app may repeat it, not change it). harbor-mirror validates the rest.
harbor_settings() {
    local name app_value
    if [ -n "${ARGOCD_ENV_HARBOR_HOST:-}" ] \
        && [ "$ARGOCD_ENV_HARBOR_HOST" != "${HARBOR_MIRROR_HARBOR_HOST:-}" ]; then
        fail "HARBOR_HOST is the sidecar's (HARBOR_MIRROR_HARBOR_HOST), an Application cannot change it"
    fi
    for name in PROJECT PULL_SECRET UPSTREAM UPSTREAM_PULL_SECRET; do
        app_value="ARGOCD_ENV_$name"
        if [ -n "${!app_value:-}" ]; then export "HARBOR_MIRROR_$name=${!app_value}"; fi
    done
}

# Every value from the Application reaches helm as `--flag=value` or as a checked positional,
# so none can become a helm flag (`--set-file=x=/etc/harbor-mirror/robot/pull-secret.json`).
# Helm's release name grammar (pkg/chart/v2/util ValidateReleaseName): 53 long at most.
check_release_name() {
    local name=$1 label='[a-z0-9]([-a-z0-9]*[a-z0-9])?'
    if [ ${#name} -gt 53 ] || ! [[ $name =~ ^$label(\.$label)*$ ]]; then
        fail "RELEASE_NAME '$name' is not a Helm release name (lower-case letters, digits, '-', '.'; at most 53)"
    fi
}

# Helm follows symlinks in a chart and values files are read through them: one leading out of
# the application would put the sidecar's files (the robot's Secret) into the manifests.
fence_symlinks() {
    local link root
    root=$(pwd -P)
    while IFS= read -r -d '' link; do
        case "$(realpath -m -- "$link")" in
            "$root" | "$root"/*) ;;
            *) fail "'${link#./}' is a symlink that leads out of the application" ;;
        esac
    done < <(find . -type l -print0)
}

# Vendored dependencies (charts/) are used as they are; otherwise fetch them once, through
# Harbor for those on oci://UPSTREAM/charts, without editing the app's Chart.yaml.
init() {
    if grep -qs '^dependencies:' Chart.yaml && [ ! -d charts ]; then
        harbor-mirror dependency build . >&2
    fi
}

# A file the app names ($2: its role), fenced to the application's source directory.
inside_app() {
    case "$1" in
        /* | .. | ../* | */.. | */../*) fail "$2 '$1' must be a path inside the application" ;;
    esac
    [ -f "$1" ] || fail "$2 '$1' does not exist in the application"
}

# LOCK_FILE (written by `harbor-mirror verify --write-lock`, committed beside the values
# files): the chart is pulled and every image pinned by its locked digest.
lock_args() {
    if [ -n "${ARGOCD_ENV_LOCK_FILE:-}" ]; then
        inside_app "$ARGOCD_ENV_LOCK_FILE" "lock file"
        lock=("--lock=$PWD/$ARGOCD_ENV_LOCK_FILE")
    fi
}

# CHART (an oci:// chart: the upstream's URL or Harbor's) pulled through Harbor into `$1`.
pull_chart() {
    case "$ARGOCD_ENV_CHART" in
        oci://*) ;;
        *) fail "CHART '$ARGOCD_ENV_CHART' must be an oci:// chart URL" ;;
    esac
    harbor-mirror pull ${lock[@]+"${lock[@]}"} "$ARGOCD_ENV_CHART" \
        ${ARGOCD_ENV_CHART_VERSION:+"--version=$ARGOCD_ENV_CHART_VERSION"} \
        --untar "--untardir=$1" >&2
}

generate() {
    local chart=. file release=${ARGOCD_ENV_RELEASE_NAME:-$ARGOCD_APP_NAME}
    local -a found helm_args values_files lock=()
    check_release_name "$release"
    lock_args
    if [ -n "${ARGOCD_ENV_CHART:-}" ]; then
        work=$(mktemp -d "${TMPDIR:-/tmp}/harbor-mirror-cmp.XXXXXX")  # global: the trap needs it
        trap 'rm -rf "$work"' EXIT
        pull_chart "$work"
        # Where helm untarred it: the chart's name, not the URL's last part (`etcd:1.0.0`).
        found=("$work"/*/Chart.yaml)
        chart=${found[0]%/Chart.yaml}
    fi
    helm_args=(template "$release" "$chart"
               "--namespace=$ARGOCD_APP_NAMESPACE" --include-crds)
    if [ -n "${KUBE_VERSION:-}" ]; then helm_args+=("--kube-version=$KUBE_VERSION"); fi
    if [ -n "${KUBE_API_VERSIONS:-}" ]; then helm_args+=("--api-versions=$KUBE_API_VERSIONS"); fi
    IFS=',' read -r -a values_files <<< "${ARGOCD_ENV_VALUES_FILES:-}"
    for file in "${values_files[@]}"; do
        inside_app "$file" "values file"
        helm_args+=("--values=$file")
    done
    # Piped, not --post-renderer: hook Jobs are rewritten on any Helm, errors reach the UI.
    helm "${helm_args[@]}" | harbor-mirror postrender ${lock[@]+"${lock[@]}"}
}

harbor_settings
fence_symlinks
case "${1:-}" in
    init) init ;;
    generate) generate ;;
    *) fail "usage: harbor-mirror-cmp init|generate" ;;
esac
