#!/bin/sh
# Helm plugin hook, `install.sh install|update`: gives this plugin its own Python environment
# ($HELM_PLUGIN_DIR/.venv, a pip install of this checkout) and, on Helm 4, the Helm 4 layout.
# Why the layout looks like this: docs/plugin-design.md.
#
# Environment: HARBOR_MIRROR_PYTHON picks the interpreter; pip's own PIP_INDEX_URL,
# PIP_FIND_LINKS, PIP_NO_INDEX ... are honoured: offline, PIP_NO_INDEX=1 with PIP_FIND_LINKS at
# the wheelhouse `make wheelhouse` collects (the dependencies and the build backend).
set -eu

PLUGIN_DIR=${HELM_PLUGIN_DIR:?"is not set: run this through helm plugin install"}
EVENT=${1:-install}
VENV=$PLUGIN_DIR/.venv
POSTRENDERER=harbor-mirror
step="starting"
reason=""
venv_built=no
linked=no
pip_log=""

# Every failure ends in on_exit, which prints the one line the user sees.
fail() {
    reason="$*"
    exit 1
}

# A failed install leaves nothing behind: no environment, no plugin directory (a copy, or the
# link to the user's checkout, never the checkout itself), no post-renderer link. A failed
# update keeps the plugin directory, so the user can see what is there.
on_exit() {
    status=$?
    [ -n "$pip_log" ] && rm -f "$pip_log"
    [ "$status" -eq 0 ] && return 0
    [ "$venv_built" = started ] && rm -rf "$VENV"
    if [ "$EVENT" = install ]; then
        [ "$linked" = yes ] && rm -f "$(dirname "$PLUGIN_DIR")/$POSTRENDERER"
        rm -rf "$PLUGIN_DIR" "$PLUGIN_DIR.harbor-mirror-copy"
        next="removed the half-installed plugin; fix that and run helm plugin install again"
    else
        next="fix that, then run \"helm plugin uninstall ${HELM_PLUGIN_NAME:-harbor-mirror}\" and install again"
    fi
    printf 'harbor-mirror: %s failed while %s: %s; %s\n' \
        "$EVENT" "$step" "${reason:-exit status $status}" "$next" >&2
}

# A local-directory install is a symlink to the user's checkout. Copy it into the plugins dir
# instead, so the hook never writes into the checkout and uninstall removes everything.
materialise_local_install() {
    [ -L "$PLUGIN_DIR" ] || return 0
    step="copying the local checkout into the plugins directory"
    source_dir=$(cd -P "$PLUGIN_DIR" && pwd)
    staging=$PLUGIN_DIR.harbor-mirror-copy
    rm -rf "$staging"
    mkdir "$staging"
    (cd "$source_dir" && tar -cf - \
        --exclude=./.git --exclude=./.venv --exclude=./.demo --exclude=./build --exclude=./dist \
        --exclude=./wheelhouse \
        --exclude=__pycache__ --exclude='*.egg-info' --exclude=.mypy_cache \
        --exclude=.pytest_cache --exclude=.ruff_cache --exclude=.hypothesis .) |
        (cd "$staging" && tar -xf -)
    rm "$PLUGIN_DIR"
    mv "$staging" "$PLUGIN_DIR"
}

# Helm 4 hooks get no HELM_BIN and Helm 3 hooks always do; on Linux ask the parent helm itself.
helm_major() {
    if [ -r "/proc/$PPID/exe" ]; then
        case $("/proc/$PPID/exe" version --template '{{.Version}}' 2>/dev/null || true) in
            v3.*) echo 3; return ;;
            v4.*) echo 4; return ;;
        esac
    fi
    if [ -n "${HELM_BIN:-}" ]; then echo 3; else echo 4; fi
}

# Sets `python`; not run in a subshell, so its failure reaches on_exit with the reason.
find_python() {
    for candidate in ${HARBOR_MIRROR_PYTHON:-} python3 python3.14 python3.13 python3.12 \
        python3.11 python3.10 python; do
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' \
            >/dev/null 2>&1; then
            python=$(command -v "$candidate")
            return 0
        fi
    done
    fail "needs Python >= 3.10 with venv and ensurepip (Debian/Ubuntu: apt-get install python3-venv)," \
        "or HARBOR_MIRROR_PYTHON=/path/to/python3 if it is not on PATH"
}

source_version() {
    sed -n '/^version = "/{s/^version = "\(.*\)"$/\1/p;q;}' "$PLUGIN_DIR/pyproject.toml"
}

installed_version() {
    "$VENV/bin/python" -c \
        'import importlib.metadata as m; print(m.version("helm-harbor-mirror"))' 2>/dev/null || true
}

# pip's own output is many lines; keep it aside and show the line that names the cause.
pip_install() {
    pip_log=$(mktemp "${TMPDIR:-/tmp}/harbor-mirror-pip.XXXXXX")
    if PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet "$PLUGIN_DIR" \
        >"$pip_log" 2>&1; then
        return 0
    fi
    cause=$(sed -n 's/^[[:space:]]*ERROR: //p' "$pip_log" | tail -n 1)
    [ -n "$cause" ] || cause=$(sed '/^[[:space:]]*$/d' "$pip_log" | tail -n 1)
    where="PIP_INDEX_URL ${PIP_INDEX_URL:-(pip's default index)}"
    if [ -n "${PIP_NO_INDEX:-}" ]; then
        where="PIP_NO_INDEX: only the wheelhouse in PIP_FIND_LINKS=${PIP_FIND_LINKS:-(unset)}, which must hold what make wheelhouse collects"
    fi
    fail "${cause:-pip did not succeed} ($where)"
}

# install keeps an environment that already holds this version; update always rebuilds it.
build_venv() {
    version=$1
    if [ "$EVENT" = install ] && [ -x "$VENV/bin/harbor-mirror" ] &&
        [ "$(installed_version)" = "$version" ]; then
        venv_action="kept"
        return 0
    fi
    step="looking for Python >= 3.10"
    find_python
    step="creating the Python environment with $python"
    venv_built=started
    rm -rf "$VENV"
    "$python" -m venv "$VENV" || fail "$python -m venv $VENV did not succeed"
    step="installing helm-harbor-mirror $version with pip"
    pip_install
    venv_built=yes
    venv_action="built"
}

# Helm 4: swap in the cli/v1 manifest (name harbor-mirror-cli) and link postrender/ as the
# postrenderer/v1 plugin harbor-mirror, which Helm 4 only finds one level deep.
use_helm4_layout() {
    step="switching to the Helm 4 layout"
    plugins=$(dirname "$PLUGIN_DIR")
    link=$plugins/$POSTRENDERER
    target=$(basename "$PLUGIN_DIR")/postrender
    if { [ -e "$link" ] || [ -L "$link" ]; } && [ "$(readlink "$link" || true)" != "$target" ]; then
        fail "$link already exists and is not this plugin's post-renderer; remove it first" \
            "(a plugins dir holds one harbor-mirror, and the checkout must not be named harbor-mirror)"
    fi
    keep_git_checkout_updatable
    cp "$PLUGIN_DIR/hooks/helm4-cli.yaml" "$PLUGIN_DIR/plugin.yaml"
    ln -sfn "$target" "$link"
    linked=yes
}

# `helm plugin update` refuses a checkout with modified tracked files and git refuses to merge
# over a skip-worktree file, but a sparse checkout that leaves plugin.yaml out merges into the
# index only: updates keep working and the swapped manifest stays.
keep_git_checkout_updatable() {
    [ -d "$PLUGIN_DIR/.git" ] || return 0
    step="excluding plugin.yaml from the plugin's git checkout"
    sparse=$(git -C "$PLUGIN_DIR" rev-parse --git-path info/sparse-checkout)
    case $sparse in /*) ;; *) sparse=$PLUGIN_DIR/$sparse ;; esac
    mkdir -p "$(dirname "$sparse")"
    printf '/*\n!/plugin.yaml\n' >"$sparse"
    git -C "$PLUGIN_DIR" config core.sparseCheckout true
    git -C "$PLUGIN_DIR" config sparse.expectFilesOutsideOfPatterns true
    git -C "$PLUGIN_DIR" update-index --skip-worktree plugin.yaml
}

main() {
    trap on_exit EXIT
    trap 'exit 130' HUP INT TERM
    case $EVENT in install | update) ;; *) fail "usage: install.sh install|update" ;; esac
    materialise_local_install
    major=$(helm_major)
    version=$(source_version)
    [ -n "$version" ] || fail "no version in $PLUGIN_DIR/pyproject.toml"
    build_venv "$version"
    if [ "$major" = 4 ]; then
        use_helm4_layout
        printf 'harbor-mirror %s: %s %s/.venv, linked the post-renderer plugin; use "helm harbor-mirror --help" and "helm install ... --post-renderer harbor-mirror"\n' \
            "$version" "$venv_action" "$PLUGIN_DIR"
    else
        printf 'harbor-mirror %s: %s %s/.venv; use "helm harbor-mirror --help"; for "--post-renderer harbor-mirror" put it on PATH: mkdir -p ~/.local/bin && ln -sf "%s/.venv/bin/harbor-mirror" ~/.local/bin/harbor-mirror\n' \
            "$version" "$venv_action" "$PLUGIN_DIR" "$PLUGIN_DIR"
    fi
}

main
