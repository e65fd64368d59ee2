"""`harbor-mirror overlay`: the overlay applied by the real kustomize equals the post-renderer.

Every fixture chart (rendered by the real Helm 4) and every corpus file goes through both
routes: `harbor-mirror postrender`, and `harbor-mirror overlay` + `kubectl kustomize` the way
Fleet and Flux run it. The two must give the same objects and no upstream reference.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from postrender import lock
from postrender.bootstrap.robot import secret_manifest
from postrender.commands.overlay import harbor_chart, overlay
from postrender.errors import ConfigError
from postrender.gitops import flux, layouts
from postrender.gitops.chart import HarborChart
from postrender.gitops.overlay import Overlay
from postrender.helm.args import CommandLine, Release, release_of
from postrender.settings import Settings
from tests.harbor_emulator import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.support.fixtures_registry import Mirror
from tests.support.kustomize_emulation import (
    comparable,
    flux_recipe,
    kustomize_build,
    overlay_cli,
    read_yaml,
    transformers_of,
)
from tests.support.rewrite_oracle import (
    CORPUS,
    FIXTURE_CHART_NAMES,
    FIXTURE_CHARTS,
    HARBOR_HOST,
    HARBOR_SECRET,
    TARGET,
    UPSTREAM,
    postrender,
    postrender_ok,
    upstream_mentions,
)

CORPUS_FILES = sorted(path.name for path in CORPUS.glob("*.yaml")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no shared corpus at {CORPUS}")
# Two corpus charts render streams kustomize refuses before any overlay applies:
# kube-prometheus-stack copies `global.imagePullSecrets` verbatim, so its ServiceAccount lists the
# secret as a bare string; cloudnative-pg renders two ClusterRoles of the same name.
BARE_PULL_SECRET = re.compile(r"^(\s*imagePullSecrets:\n)(\s*)- (application-collection)$", re.M)
DOCUMENT_START = re.compile(r"^(?=---)", re.M)
IDENTITY = re.compile(r"^(kind: .*|  name: .*|  namespace: .*)$", re.M)
# etcd-like renders its upstream pull Secret by default, and an overlay refuses to copy a
# Secret's content into Git (test_overlay_refuses_to_put_a_secrets_content_in_git).
NO_SECRET = {"etcd-like": ("--set", "upstreamPullSecret.create=false")}
NO_SECRET_VALUES = "upstreamPullSecret:\n  create: false\n"


def as_kustomize_accepts(rendered: str) -> str:
    """The stream with `{name: ...}` pull secrets (what the chart renders when given them that
    way) and only the first of the documents that share kind, name and namespace."""
    fixed = BARE_PULL_SECRET.sub(r"\1\2- name: \3", rendered)
    kept: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for document in DOCUMENT_START.split(fixed):
        identity = tuple(IDENTITY.findall(document)[:3])
        if identity and identity in seen:
            continue
        seen.add(identity)
        kept.append(document)
    return "".join(kept)


def _render(helm4: Path, chart: Path, *args: str) -> str:
    done = subprocess.run(
        [str(helm4), "template", "demo", str(chart), "-n", "demo-ns", *args],
        capture_output=True, text=True, check=True,
    )
    return done.stdout


def _assert_same_as_postrender(
    kubectl: Path, rendered: str, kustomization: dict[str, Any], workdir: Path, *secret_args: str
) -> None:
    built = kustomize_build(kubectl, rendered, transformers_of(kustomization), workdir)
    assert built.returncode == 0, built.stderr
    assert upstream_mentions(built.stdout) == []
    assert comparable(built.stdout) == comparable(postrender_ok(rendered, *secret_args))


@pytest.mark.parametrize(
    "secret_args", [(), ("--pull-secret", HARBOR_SECRET)], ids=["keep", "rename"]
)
@pytest.mark.parametrize("chart", FIXTURE_CHART_NAMES)
def test_overlay_on_fixture_chart_equals_postrender(
    chart: str, secret_args: tuple[str, ...], helm4: Path, kubectl: Path, tmp_path: Path
) -> None:
    out = tmp_path / "overlay"
    values = NO_SECRET.get(chart, ())
    made = overlay_cli(
        "--out", out, *secret_args, "demo", FIXTURE_CHARTS / chart, "-n", "demo-ns", *values,
        tmp_path=tmp_path, helm=helm4,
    )
    assert made.returncode == 0, made.stderr
    assert "wrote" in made.stdout
    rendered = _render(helm4, FIXTURE_CHARTS / chart, *values)
    _assert_same_as_postrender(
        kubectl, rendered, read_yaml(out / "kustomization.yaml"), tmp_path / "k", *secret_args
    )


@needs_corpus
@pytest.mark.parametrize("name", CORPUS_FILES)
def test_overlay_on_corpus_equals_postrender(name: str, kubectl: Path, tmp_path: Path) -> None:
    raw = (CORPUS / name).read_text(encoding="utf-8")
    rendered = as_kustomize_accepts(raw)
    if rendered != raw:
        refused = kustomize_build(kubectl, raw, {}, tmp_path / "raw")
        assert refused.returncode != 0, "kustomize takes the raw stream: drop the workaround"
    out = tmp_path / "overlay"
    made = overlay_cli(
        "--out", out, "--pull-secret", HARBOR_SECRET, "--from-stdin",
        tmp_path=tmp_path, stdin=rendered,
    )
    assert made.returncode == 0, made.stderr
    _assert_same_as_postrender(
        kubectl, rendered, read_yaml(out / "kustomization.yaml"), tmp_path / "k",
        "--pull-secret", HARBOR_SECRET,
    )


@needs_corpus
def test_overlay_refuses_bare_string_pull_secrets_that_kustomize_refuses(
    kubectl: Path, tmp_path: Path
) -> None:
    rendered = (CORPUS / "kube-prometheus-stack.postrender-input.yaml").read_text(encoding="utf-8")
    made = overlay_cli("--out", tmp_path / "o", "--from-stdin", tmp_path=tmp_path, stdin=rendered)
    assert made.returncode == 2
    assert made.stderr.count("\n") == 1 and "Traceback" not in made.stderr
    assert "ServiceAccount/" in made.stderr and "bare string" in made.stderr
    assert not (tmp_path / "o").exists()
    # Not a limit of the overlay: kustomize refuses this stream even with nothing to apply.
    plain = kustomize_build(kubectl, rendered, {}, tmp_path / "k")
    assert plain.returncode != 0
    assert "expected sequence or mapping node" in plain.stderr


def _bumped_copy(tmp_path: Path) -> Path:
    chart = tmp_path / "etcd-like"
    shutil.copytree(FIXTURE_CHARTS / "etcd-like", chart)
    values = chart / "values.yaml"
    text = values.read_text(encoding="utf-8")
    values.write_text(text.replace("  create: true", "  create: false"), encoding="utf-8")
    return chart


def test_check_fails_after_a_chart_bump_and_passes_after_regenerating(
    helm4: Path, kubectl: Path, tmp_path: Path
) -> None:
    chart = _bumped_copy(tmp_path)
    out = tmp_path / "committed"
    args = ("--out", out, "demo", chart, "-n", "demo-ns")
    assert overlay_cli(*args, tmp_path=tmp_path, helm=helm4).returncode == 0
    fresh = overlay_cli("--check", *args, tmp_path=tmp_path, helm=helm4)
    assert fresh.returncode == 0, fresh.stderr
    assert "up to date" in fresh.stdout

    values = chart / "values.yaml"
    text = values.read_text(encoding="utf-8")
    assert "1.33.4" in text  # the kubectl hook image, also named in a ConfigMap script
    values.write_text(text.replace("1.33.4", "1.34.1"), encoding="utf-8")
    before = (out / "kustomization.yaml").read_text(encoding="utf-8")

    stale = overlay_cli("--check", *args, tmp_path=tmp_path, helm=helm4)
    assert stale.returncode == 1
    assert stale.stderr.count("\n") == 1 and "stale" in stale.stderr
    assert (out / "kustomization.yaml").read_text(encoding="utf-8") == before  # wrote nothing

    # Left stale, the overlay fails the engine's render instead of pinning the old tag.
    bumped = _render(helm4, chart)
    committed = transformers_of(read_yaml(out / "kustomization.yaml"))
    applied = kustomize_build(kubectl, bumped, committed, tmp_path / "k")
    assert applied.returncode != 0 and "test failed" in applied.stderr

    assert overlay_cli(*args, tmp_path=tmp_path, helm=helm4).returncode == 0
    assert overlay_cli("--check", *args, tmp_path=tmp_path, helm=helm4).returncode == 0
    _assert_same_as_postrender(
        kubectl, bumped, read_yaml(out / "kustomization.yaml"), tmp_path / "k2"
    )


def test_check_fails_when_nothing_was_committed(helm4: Path, tmp_path: Path) -> None:
    result = overlay_cli(
        "--check", "--out", tmp_path / "none", "demo", FIXTURE_CHARTS / "etcd-like",
        *NO_SECRET["etcd-like"], tmp_path=tmp_path, helm=helm4,
    )
    assert result.returncode == 1 and "stale" in result.stderr


def test_fleet_layout_is_a_bundle_fleet_can_render(
    helm4: Path, kubectl: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "values.yaml").write_text("replicaCount: 1\n" + NO_SECRET_VALUES, encoding="utf-8")
    made = overlay_cli(
        "--layout", "fleet", "--out", bundle, "--pull-secret", HARBOR_SECRET,
        "demo", FIXTURE_CHARTS / "etcd-like", "-n", "demo-ns", "-f", bundle / "values.yaml",
        tmp_path=tmp_path, helm=helm4,
    )
    assert made.returncode == 0, made.stderr
    fleet = read_yaml(bundle / "fleet.yaml")
    assert fleet["defaultNamespace"] == "demo-ns"
    assert fleet["kustomize"] == {"dir": "harbor-mirror"}
    assert fleet["helm"]["releaseName"] == "demo"
    assert fleet["helm"]["valuesFiles"] == ["values.yaml"]
    for written in ("fleet.yaml", "harbor-mirror/kustomization.yaml"):
        assert stat.S_IMODE((bundle / written).stat().st_mode) == 0o644  # no secrets in them
    assert (bundle / fleet["helm"]["chart"]).resolve() == (FIXTURE_CHARTS / "etcd-like").resolve()
    rendered = _render(helm4, FIXTURE_CHARTS / "etcd-like", "-f", str(bundle / "values.yaml"))
    _assert_same_as_postrender(
        kubectl, rendered, read_yaml(bundle / "harbor-mirror" / "kustomization.yaml"),
        tmp_path / "k", "--pull-secret", HARBOR_SECRET,
    )


def test_flux_layout_is_a_helmrelease_patch_whose_postrenderer_matches(
    helm4: Path, kubectl: Path, tmp_path: Path
) -> None:
    out = tmp_path / "flux"
    made = overlay_cli(
        "--layout", "flux", "--out", out, "--pull-secret", HARBOR_SECRET,
        "demo", FIXTURE_CHARTS / "widget-operator", "-n", "demo-ns", tmp_path=tmp_path, helm=helm4,
    )
    assert made.returncode == 0, made.stderr
    release = read_yaml(out / "helmrelease-postrenderers.yaml")
    assert (release["apiVersion"], release["kind"]) == ("helm.toolkit.fluxcd.io/v2", "HelmRelease")
    assert release["metadata"]["name"] == "demo"
    (post_renderer,) = release["spec"]["postRenderers"]
    assert set(post_renderer) == {"kustomize"}
    assert set(post_renderer["kustomize"]) == {"images", "patches"}
    _assert_same_as_postrender(
        kubectl, _render(helm4, FIXTURE_CHARTS / "widget-operator"), post_renderer["kustomize"],
        tmp_path / "k", "--pull-secret", HARBOR_SECRET,
    )

    # The README's recipe: the user's HelmRelease plus this patch, built by Flux's kustomize.
    patched = flux_recipe(kubectl, out, FLUX_HELMRELEASE)["HelmRelease"]
    assert patched["spec"]["postRenderers"] == [post_renderer]  # the whole list is replaced
    assert patched["spec"]["releaseName"] == "demo"
    assert patched["spec"]["chart"]["spec"]["version"] == "1.0.0"


FLUX_HELMRELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: demo, namespace: flux-system}
spec:
  releaseName: demo
  targetNamespace: demo-ns
  interval: 10m
  chart:
    spec: {chart: widget-operator, version: 1.0.0, sourceRef: {kind: HelmRepository, name: r}}
  postRenderers:
    - kustomize:
        patches:
          - patch: '[{"op": "add", "path": "/metadata/labels/x", "value": "y"}]'
            target: {kind: Deployment}
"""


def test_namespace_helm_took_for_itself_still_reaches_render_and_fleet_yaml(
    helm4: Path, kubectl: Path, tmp_path: Path
) -> None:
    """`helm harbor-mirror overlay … -n NS`: Helm strips -n and sets HELM_NAMESPACE instead."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    values = bundle / "values.yaml"
    values.write_text(NO_SECRET_VALUES, encoding="utf-8")
    made = overlay_cli(
        "--layout", "fleet", "--out", bundle, "--pull-secret", HARBOR_SECRET,
        "demo", FIXTURE_CHARTS / "etcd-like", "-f", values, tmp_path=tmp_path, helm=helm4,
        extra_env={"HELM_NAMESPACE": "demo-ns"},
    )
    assert made.returncode == 0, made.stderr
    assert read_yaml(bundle / "fleet.yaml")["defaultNamespace"] == "demo-ns"
    _assert_same_as_postrender(
        kubectl, _render(helm4, FIXTURE_CHARTS / "etcd-like", "-f", str(values)),
        read_yaml(bundle / "harbor-mirror" / "kustomization.yaml"), tmp_path / "k",
        "--pull-secret", HARBOR_SECRET,
    )


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--layout", "fleet", "demo", "CHART", *NO_SECRET["etcd-like"]], "values file"),
        (["--layout", "flux", "--from-stdin"], "release name"),
        (["--layout", "fleet", "--from-stdin"], "release name"),
        (["--from-stdin", "demo", "CHART"], "give no helm template args"),
        (["demo", "CHART", "--post-renderer", "harbor-mirror"], "--post-renderer"),
        (["demo", "/nonexistent/chart"], "helm template failed"),
        ([], "helm template arguments"),
        (["--harbor-host", "https://bad/"], "HOST[:PORT]"),
    ],
)
def test_overlay_bad_input_is_one_line(
    args: list[str], expect: str, helm4: Path, tmp_path: Path
) -> None:
    args = [str(FIXTURE_CHARTS / "etcd-like") if arg == "CHART" else arg for arg in args]
    result = overlay_cli("--out", tmp_path / "o", *args, tmp_path=tmp_path, helm=helm4, stdin="")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert expect in result.stderr
    assert not (tmp_path / "o").exists()


def test_overlay_refuses_to_put_a_secrets_content_in_git(helm4: Path, tmp_path: Path) -> None:
    """A patch on the chart's upstream pull Secret would hold its credentials, old and new."""
    result = overlay_cli(
        "--out", tmp_path / "o", "demo", FIXTURE_CHARTS / "etcd-like", tmp_path=tmp_path, helm=helm4
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    # the stream is helm's rendering, not stdin: the line says so
    assert "error: helm template's output document 2: Secret/demo-etcd-like-upstream-auth" in \
        result.stderr
    assert "setup --secret-out" in result.stderr
    assert "not-a-real-token" not in result.stderr and "eyJ" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_overlay_that_cannot_write_its_out_dir_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    out = tmp_path / "file" / "overlay"
    result = overlay_cli(
        "--out", out, "--from-stdin", tmp_path=tmp_path,
        stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"--out {out / 'kustomization.yaml'}: cannot write there" in result.stderr


def test_fleet_layout_that_cannot_write_one_file_writes_neither(
    helm4: Path, tmp_path: Path
) -> None:
    """fleet.yaml names the overlay beside it: written alone it would point Fleet at nothing
    (or at an old overlay), so a target the second file cannot replace leaves both as they
    were."""
    out = tmp_path / "o"
    (out / "harbor-mirror" / "kustomization.yaml").mkdir(parents=True)
    result = overlay_cli("--out", out, "--layout", "fleet", "demo",
                         FIXTURE_CHARTS / "widget-operator", tmp_path=tmp_path, helm=helm4)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"{out / 'harbor-mirror' / 'kustomization.yaml'}: cannot write there" in result.stderr
    assert sorted(p.name for p in out.rglob("*")) == ["harbor-mirror", "kustomization.yaml"]


@pytest.mark.parametrize(
    ("chart", "repo"),
    [
        ("etcd", "https://u:s3cr3t@charts.example.com"),
        ("oci://u:s3cr3t@harbor.example.com/charts/etcd", None),
    ],
)
def test_fleet_layout_refuses_to_write_url_credentials(
    chart: str, repo: str | None, tmp_path: Path
) -> None:
    release = Release("demo", chart, None, None, repo, [], [])
    with pytest.raises(ConfigError, match="helmSecretName") as error:
        layouts.files("fleet", Overlay([], []), release, tmp_path)
    assert "s3cr3t" not in str(error.value)


def test_overlay_help_names_the_layouts(tmp_path: Path) -> None:
    result = overlay_cli("--help", tmp_path=tmp_path)
    assert result.returncode == 0
    for word in ("--layout", "fleet", "flux", "--check", "--from-stdin", "--pull-secret"):
        assert word in result.stdout
    assert HARBOR_HOST not in result.stdout


def test_helm_short_flag_clusters_reach_helm_template(helm4: Path, tmp_path: Path) -> None:
    """`-fhooks.yaml` is helm's `-f hooks.yaml`: read as one-letter options it held `-h` and
    printed help (exit 0) instead of writing the overlay; `-h` first is still help."""
    values = tmp_path / "hooks.yaml"
    values.write_text(NO_SECRET_VALUES)
    out = tmp_path / "out"

    made = overlay_cli("--out", out, f"-f{values}", "demo", FIXTURE_CHARTS / "etcd-like",
                       tmp_path=tmp_path, helm=helm4)  # fmt: skip

    assert made.returncode == 0, made.stderr
    assert (out / "kustomization.yaml").is_file()
    helped = overlay_cli("-h", tmp_path=tmp_path)
    assert helped.returncode == 0
    assert helped.stdout.startswith("Usage: harbor-mirror overlay [OPTIONS]")


# The chart as the user names it, and where an air-gapped engine must fetch it instead.
UPSTREAM_CHART = "oci://dp.apps.rancher.io/charts/etcd-like"
HARBOR_CHART = f"oci://{TARGET}/charts/etcd-like"


def _overlay_of_upstream_chart(
    helm4: Path, out: Path, layout: str, *extra: str
) -> tuple[str, str]:
    """`overlay --layout LAYOUT demo oci://UPSTREAM/charts/etcd-like --version 1.0.0 -n demo-ns`
    on the stream Helm renders for it (the local copy of that chart: no registry needed)."""
    rendered = _render(helm4, FIXTURE_CHARTS / "etcd-like", *NO_SECRET["etcd-like"])
    line = CommandLine.parse(
        "template", ["demo", UPSTREAM_CHART, "--version", "1.0.0", "-n", "demo-ns", *extra], 4
    )
    release = release_of(line, {})
    config = Settings(harbor_host=HARBOR_HOST, pull_secret=HARBOR_SECRET)
    said = overlay(rendered, config, layout=layout, release=release, out_dir=out, check=False)
    return rendered, said


def test_fleet_yaml_names_harbors_chart_and_says_what_helm_secret_name_holds(
    helm4: Path, kubectl: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    rendered, said = _overlay_of_upstream_chart(helm4, bundle, "fleet")

    helm = read_yaml(bundle / "fleet.yaml")["helm"]
    assert helm["chart"] == HARBOR_CHART  # what an air-gapped Fleet agent can pull
    assert helm["version"] == "1.0.0"
    assert upstream_mentions((bundle / "fleet.yaml").read_text(encoding="utf-8")) == []
    (note,) = said.splitlines()[1:]
    assert f"Fleet pulls {HARBOR_CHART}: the GitRepo's helmSecretName must name a Secret" in note
    assert "username and password of" in note
    assert "helmRepoURLRegex: ^oci://harbor\\.example\\.com/ so only Harbor" in note
    _assert_same_as_postrender(
        kubectl, rendered, read_yaml(bundle / "harbor-mirror" / "kustomization.yaml"),
        tmp_path / "k", "--pull-secret", HARBOR_SECRET,
    )


def test_flux_layout_writes_harbors_ocirepository_and_points_the_helmrelease_at_it(
    helm4: Path, kubectl: Path, tmp_path: Path
) -> None:
    out = tmp_path / "flux"
    rendered, said = _overlay_of_upstream_chart(helm4, out, "flux")

    source = read_yaml(out / "ocirepository.yaml")
    assert source["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert source["kind"] == "OCIRepository"
    assert source["metadata"] == {"name": "demo"}
    assert source["spec"]["url"] == HARBOR_CHART
    assert source["spec"]["ref"] == {"tag": "1.0.0"}
    assert source["spec"]["layerSelector"] == {
        "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy",
    }
    assert source["spec"]["secretRef"] == {"name": HARBOR_SECRET}  # the robot Secret setup writes
    assert "certSecretRef" not in source["spec"]  # no private CA configured
    assert upstream_mentions((out / "ocirepository.yaml").read_text(encoding="utf-8")) == []
    assert f"Flux pulls {HARBOR_CHART}: put Secret {HARBOR_SECRET} in the HelmRelease's" in said

    # The README's recipe: the user's HelmRelease (still on an upstream HelmRepository), the
    # patch and the source, built by the real kustomize as Flux's kustomize-controller does.
    by_kind = flux_recipe(kubectl, out, FLUX_HELMRELEASE.replace("widget-operator", "etcd-like"),
                          extra_kustomization="namespace: flux-system\n")
    release = by_kind["HelmRelease"]
    assert "chart" not in release["spec"]  # Flux takes chart or chartRef, never both
    assert release["spec"]["chartRef"] == {"kind": "OCIRepository", "name": "demo"}
    assert by_kind["OCIRepository"]["metadata"] == {"name": "demo", "namespace": "flux-system"}
    (post_renderer,) = release["spec"]["postRenderers"]
    _assert_same_as_postrender(
        kubectl, rendered, post_renderer["kustomize"], tmp_path / "k",
        "--pull-secret", HARBOR_SECRET,
    )


@pytest.mark.parametrize(
    ("version", "ref"),
    [
        ("1.0.0", {"tag": "1.0.0"}),
        ("1.0.0+build.7", {"tag": "1.0.0_build.7"}),  # how helm push tags build metadata
        ("2.1.0-rc.1", {"tag": "2.1.0-rc.1"}),
        ("~1.0", {"semver": "~1.0"}),
        (">=1.2.0 <2.0.0", {"semver": ">=1.2.0 <2.0.0"}),
        (None, {"semver": "*"}),
    ],
)
def test_flux_source_pins_the_version_as_helm_would(
    version: str | None, ref: dict[str, str]
) -> None:
    release = Release("demo", UPSTREAM_CHART, None, version, None, [], [])
    chart = HarborChart(HARBOR_CHART, HARBOR_HOST, HARBOR_SECRET, None, "/etc/harbor-ca.pem")
    source = flux.files(Overlay([], []), release, chart)["ocirepository.yaml"]
    assert source["spec"]["ref"] == ref
    assert source["spec"]["certSecretRef"] == {"name": "harbor-mirror-ca"}


def test_flux_source_takes_a_tag_in_the_chart_url_as_its_ref_not_its_url() -> None:
    release = Release("demo", f"{UPSTREAM_CHART}:1.0.0", None, None, None, [], [])
    chart = HarborChart(f"{HARBOR_CHART}:1.0.0", HARBOR_HOST, HARBOR_SECRET, None, None)
    source = flux.files(Overlay([], []), release, chart)["ocirepository.yaml"]
    assert source["spec"]["url"] == HARBOR_CHART  # an OCIRepository url names no tag
    assert source["spec"]["ref"] == {"tag": "1.0.0"}
    digest = "sha256:" + "e" * 64
    by_digest = chart._replace(url=f"{HARBOR_CHART}:1.0.0@{digest}")
    source = flux.files(Overlay([], []), release, by_digest)["ocirepository.yaml"]
    assert (source["spec"]["url"], source["spec"]["ref"]) == (HARBOR_CHART, {"digest": digest})


def test_flux_layout_of_a_local_chart_keeps_the_users_chart_source(
    helm4: Path, tmp_path: Path
) -> None:
    out = tmp_path / "flux"
    made = overlay_cli(
        "--layout", "flux", "--out", out, "demo", FIXTURE_CHARTS / "widget-operator",
        tmp_path=tmp_path, helm=helm4,
    )
    assert made.returncode == 0, made.stderr
    assert sorted(path.name for path in out.iterdir()) == ["helmrelease-postrenderers.yaml"]
    assert set(read_yaml(out / "helmrelease-postrenderers.yaml")["spec"]) == {"postRenderers"}
    assert "no ocirepository.yaml: the chart is not an oci:// chart Harbor serves" in made.stdout


def test_overlay_of_the_upstream_chart_renders_it_from_harbor_and_names_harbor(
    mirror: Mirror, kubectl: Path, helm4: Path, tmp_path: Path
) -> None:
    """No route to the upstream: the chart comes from Harbor's private proxy-cache project,
    signed in with the Secret file and trusting the CA that setup remembers in the config."""
    secret_file = tmp_path / "pull-secret.json"  # the admin stands in for setup's robot here
    secret_file.write_text(
        secret_manifest(HARBOR_SECRET, mirror.host, ADMIN_USERNAME, ADMIN_PASSWORD)
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        f"harborHost: {mirror.host}\ncaFile: {mirror.harbor.ca_file}\n"
        f"secretFile: {secret_file}\npullSecret: {HARBOR_SECRET}\n"
    )
    harbor_chart = f"oci://{mirror.host}/application-collection/charts/etcd-like"
    outputs: dict[str, str] = {}
    for layout in ("fleet", "flux"):
        bundle = tmp_path / layout
        bundle.mkdir()
        (bundle / "values.yaml").write_text(NO_SECRET_VALUES, encoding="utf-8")
        made = overlay_cli(
            "--layout", layout, "--out", bundle, "demo", UPSTREAM_CHART, "--version", "0.1.0",
            "-n", "demo-ns", "-f", bundle / "values.yaml", tmp_path=tmp_path, helm=helm4,
            harbor_host=mirror.host, extra_env={"HARBOR_MIRROR_CONFIG": str(config)},
        )
        assert made.returncode == 0, made.stderr
        outputs[layout] = made.stdout
    manifests = [r.path for r in mirror.harbor.requests if "/manifests/" in r.path]
    assert "/v2/application-collection/charts/etcd-like/manifests/0.1.0" in manifests

    assert read_yaml(tmp_path / "fleet" / "fleet.yaml")["helm"]["chart"] == harbor_chart
    assert f"with username and password of the robot in {secret_file}" in outputs["fleet"]
    assert f"cacerts: the CA in {mirror.harbor.ca_file}" in outputs["fleet"]
    source = read_yaml(tmp_path / "flux" / "ocirepository.yaml")["spec"]
    assert source["url"] == harbor_chart
    assert source["ref"] == {"tag": "0.1.0"}
    assert source["secretRef"] == {"name": HARBOR_SECRET}
    assert source["certSecretRef"] == {"name": "harbor-mirror-ca"}
    assert f"--from-file=ca.crt={mirror.harbor.ca_file}" in outputs["flux"]
    assert f"kubectl apply -n NAMESPACE -f {secret_file}" in outputs["flux"]
    for layout in outputs:
        assert ADMIN_PASSWORD not in "".join(
            path.read_text(encoding="utf-8") for path in (tmp_path / layout).rglob("*.yaml")
        )

    # What the engine renders from that chart, then the overlay: every image through Harbor.
    values = str(tmp_path / "fleet" / "values.yaml")
    rendered = _render(helm4, FIXTURE_CHARTS / "etcd-like", "-f", values)
    kustomization = read_yaml(tmp_path / "fleet" / "harbor-mirror" / "kustomization.yaml")
    built = kustomize_build(kubectl, rendered, transformers_of(kustomization), tmp_path / "k")
    assert built.returncode == 0, built.stderr
    assert upstream_mentions(built.stdout) == []
    assert f"image: {mirror.host}/application-collection/containers/etcd:" in built.stdout


@pytest.mark.parametrize(
    ("chart", "project", "expected"),
    [
        (UPSTREAM_CHART, "application-collection", HARBOR_CHART),
        # replication: the destination namespace is where Harbor holds the copy
        (UPSTREAM_CHART, "appco-mirror", f"oci://{HARBOR_HOST}/appco-mirror/charts/etcd-like"),
        (HARBOR_CHART, "application-collection", HARBOR_CHART),  # already Harbor's
        ("oci://registry.suse.com/charts/etcd-like", "application-collection", None),
        ("oci://notdp.apps.rancher.io/charts/etcd-like", "application-collection", None),
        ("./charts/etcd-like", "application-collection", None),
    ],
)
def test_harbor_chart_is_harbors_copy_of_an_upstream_oci_chart(
    chart: str, project: str, expected: str | None
) -> None:
    release = Release("demo", chart, None, "1.0.0", None, [], [])
    config = Settings(harbor_host=HARBOR_HOST, project=project, ca_file="/ca.pem",
                      secret_file="/s.json")
    found = harbor_chart(release, config)
    if expected is None:
        assert found is None
    else:
        assert found == HarborChart(expected, HARBOR_HOST, "application-collection", "/s.json",
                                    "/ca.pem")


# oci:// chart URLs a chart renders for another reader: Flux's sources and an Argo CD Application.
CHART_SOURCES = f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {{name: etcd}}
spec:
  url: oci://{UPSTREAM}/charts/etcd
  ref: {{tag: 1.0.0}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: charts}}
spec:
  type: oci
  url: oci://{UPSTREAM}/charts
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: etcd}}
spec:
  source: {{repoURL: 'oci://{UPSTREAM}/charts/etcd', targetRevision: 1.0.0}}
---
apiVersion: v1
kind: Pod
metadata: {{name: p}}
spec:
  containers: [{{name: m, image: {UPSTREAM}/containers/etcd:3.5}}]
"""


def test_lock_names_chart_urls_not_pinned_in_postrender_and_overlay_alike(
    tmp_path: Path,
) -> None:
    lock_file = tmp_path / "lock.yaml"
    digest = "sha256:" + "e" * 64
    lock.Lock({f"{TARGET}/containers/etcd:3.5": lock.ImageLock(digest)}).write(lock_file)
    said = "(an oci:// chart URL: its reader asks for the chart by tag)"

    rendered = postrender(CHART_SOURCES, "--lock", str(lock_file))
    assert rendered.returncode == 0, rendered.stderr
    assert f"image: {TARGET}/containers/etcd:3.5@{digest}" in rendered.stdout
    assert rendered.stderr.splitlines() == [
        f"harbor-mirror: not pinned: line 5: oci://{TARGET}/charts/etcd {said}",
        f"harbor-mirror: not pinned: line 13: oci://{TARGET}/charts {said}",
        f"harbor-mirror: not pinned: line 19: oci://{TARGET}/charts/etcd {said}",
    ]
    made = overlay_cli("--from-stdin", "--out", tmp_path / "o", "--lock", lock_file,
                       stdin=CHART_SOURCES, tmp_path=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "not pinned" not in made.stdout
    assert sorted(made.stderr.splitlines()) == [
        f"harbor-mirror: not pinned: Application/etcd spec.source.repoURL: "
        f"oci://{TARGET}/charts/etcd {said}",
        f"harbor-mirror: not pinned: HelmRepository/charts spec.url: oci://{TARGET}/charts {said}",
        f"harbor-mirror: not pinned: OCIRepository/etcd spec.url: oci://{TARGET}/charts/etcd "
        f"{said}",
    ]

    strict = postrender(CHART_SOURCES, "--lock", str(lock_file), "--strict")
    assert strict.returncode == 1 and strict.stdout == ""
    assert strict.stderr.splitlines() == [
        f"harbor-mirror: error: 3 Harbor references cannot carry a digest (--strict with --lock), "
        f"first line 5: oci://{TARGET}/charts/etcd {said}"
    ]
    refused = overlay_cli("--from-stdin", "--out", tmp_path / "s", "--lock", lock_file,
                          "--strict", stdin=CHART_SOURCES, tmp_path=tmp_path)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "cannot carry a digest" in refused.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("layout", ["fleet", "flux"])
def test_lock_names_a_chart_given_with_its_tag_by_digest_alone(
    layout: str, tmp_path: Path
) -> None:
    """`oci://…/etcd-like:1.0.0` with no --version: the tag must not ride along with the digest.
    Fleet's Helm would ask Harbor for a tag beside a digest (one upstream request per fetch);
    Flux's OCIRepository url takes no tag at all."""
    digest = "sha256:" + "c" * 64
    lock_file = tmp_path / "lock.yaml"
    lock.Lock({}, {f"{HARBOR_CHART}:1.0.0": lock.ChartLock(digest)}).write(lock_file)
    release = Release("demo", f"{UPSTREAM_CHART}:1.0.0", None, None, None, [], [])
    config = Settings(harbor_host=HARBOR_HOST, pull_secret=HARBOR_SECRET, lock=str(lock_file))
    out = tmp_path / layout
    said = overlay("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", config,
                   layout=layout, release=release, out_dir=out, check=False)

    if layout == "fleet":
        helm = read_yaml(out / "fleet.yaml")["helm"]
        assert helm["chart"] == f"{HARBOR_CHART}@{digest}"
        assert "version" not in helm
    else:
        spec = read_yaml(out / "ocirepository.yaml")["spec"]
        assert (spec["url"], spec["ref"]) == (HARBOR_CHART, {"digest": digest})
    assert f"pulls {HARBOR_CHART}:" in said


def test_fleet_never_updates_a_local_charts_upstream_dependencies(tmp_path: Path) -> None:
    """Fleet fetches a local chart's dependencies missing from its charts/ from the repository
    Chart.yaml names (fleet internal/helmupdater UpdateHelmDependencies), which here is the
    upstream that only Harbor reaches: fleet.yaml turns that off and says what to commit."""
    bundle = tmp_path / "bundle"
    charts = {"umbrella": "oci://dp.apps.rancher.io/charts", "local": "file://../sub"}
    for name, repository in charts.items():
        (bundle / name).mkdir(parents=True)
        (bundle / name / "Chart.yaml").write_text(
            f"apiVersion: v2\nname: {name}\nversion: 1.0.0\ndependencies:\n"
            f"  - {{name: etcd-like, version: 0.1.x, repository: '{repository}'}}\n"
        )
    config = Settings(harbor_host=HARBOR_HOST)

    def fleet_of(name: str) -> tuple[dict[str, Any], str]:
        release = release_of(CommandLine.parse("template", ["demo", str(bundle / name)], 4), {})
        said = overlay("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", config,
                       layout="fleet", release=release, out_dir=bundle, check=False)
        return read_yaml(bundle / "fleet.yaml")["helm"], said

    helm, said = fleet_of("umbrella")
    assert helm["chart"] == "umbrella" and helm["disableDependencyUpdate"] is True
    assert (f"commit {bundle / 'umbrella' / 'charts'}/ as `helm harbor-mirror dependency build "
            f"{bundle / 'umbrella'}` filled it") in said
    helm, said = fleet_of("local")
    assert "disableDependencyUpdate" not in helm and "dependency build" not in said


def test_flux_layout_says_to_commit_a_local_charts_upstream_dependencies(tmp_path: Path) -> None:
    """Flux's source-controller fetches a GitRepository chart's missing dependencies from the
    URL Chart.yaml names (source-controller internal/helm/chart/dependency_manager.go Build,
    helmchart_controller.go namespacedChartRepositoryCallback): the upstream here."""
    chart = tmp_path / "umbrella"
    chart.mkdir()
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: umbrella\nversion: 1.0.0\ndependencies:\n"
        "  - {name: etcd-like, version: 0.1.x, repository: 'oci://dp.apps.rancher.io/charts'}\n"
    )
    release = release_of(CommandLine.parse("template", ["demo", str(chart)], 4), {})

    said = overlay("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
                   Settings(harbor_host=HARBOR_HOST), layout="flux", release=release,
                   out_dir=tmp_path / "flux", check=False)

    assert (f"commit {chart / 'charts'}/ as `helm harbor-mirror dependency build {chart}` "
            "filled it: Flux's source-controller fetches") in said
