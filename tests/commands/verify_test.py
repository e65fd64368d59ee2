"""`harbor-mirror verify`, `chart-url` and `postrender --verify`, end to end on loopback.

The upstream is a real CNCF distribution registry; Harbor is the emulator with a proxy-cache
project of it; charts render with the real Helm 4.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time

import pytest

from tests.harbor_emulator import API_PREFIX
from tests.support.fixtures_helm import isolated_helm_env
from tests.support.fixtures_registry import (
    ADMIN_ENV,
    CHART,
    REPO_ROOT,
    add_proxy_project,
    busybox_digest,
    harbor_client,
    pin_values,
    pull_token,
)


class Runner:
    """Runs `harbor-mirror ARGS` as a user would, with Helm 4 and admin credentials."""

    def __init__(self, helm, env):
        self.helm = helm
        self.env = env

    def __call__(self, *args, input=None, extra_env=None):
        return subprocess.run(
            [sys.executable, "-m", "postrender.cli", *map(str, args)],
            input=input, capture_output=True, text=True, cwd=REPO_ROOT,
            env={**self.env, **(extra_env or {})}, timeout=120,
        )


@pytest.fixture
def run(mirror, helm4, tmp_path):
    helm = isolated_helm_env(helm4, tmp_path / "helm")
    return Runner(helm, {**helm.env, **ADMIN_ENV, "HELM_BIN": str(helm4)})


def _target(mirror):
    return ["--harbor-host", mirror.host, "--ca-file", mirror.harbor.ca_file]


def _render_args(mirror):
    """The fixture chart with its digest-pinned image pinned to what the upstream really holds."""
    return ["demo", CHART, *pin_values(mirror)]


def _manifest(tmp_path, *references):
    path = tmp_path / "rendered.yaml"
    path.write_text("".join(
        f"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n  containers:\n"
        f"    - name: c\n      image: {ref}\n" for i, ref in enumerate(references)
    ))
    return path


def _verify_with_the_upstream_down(mirror, run):
    """`verify -o json` of the fixture chart while the upstream registry is stopped."""
    upstream = mirror.upstream.registry
    upstream.stop()
    try:
        return run("verify", *_render_args(mirror), *_target(mirror), "-o", "json")
    finally:
        upstream.start()


SUSE_BUSYBOX = "registry.suse.com/bci/bci-busybox:15.6"  # the fixture chart's log shipper


def test_verify_reports_every_reference_of_fixture_chart_ok(mirror, run):
    """The first verify, with nothing cached: Harbor's GET by tag of an index names no digest."""
    done = run("verify", *_render_args(mirror), *_target(mirror), "--output", "json")
    assert done.returncode == 0, done.stderr
    results = {entry["reference"]: entry for entry in json.loads(done.stdout)}
    prefix = f"{mirror.host}/application-collection/containers"
    images = mirror.upstream.images
    assert {reference: entry["result"] for reference, entry in results.items()} == {
        f"{prefix}/etcd:3.5.17-1.2": "ok",
        f"{prefix}/kubectl:1.33.4": "ok",
        f"{prefix}/bci-busybox:15.6@{busybox_digest(mirror)}": "ok",
        SUSE_BUSYBOX: "not mirrored",
    }
    etcd = results[f"{prefix}/etcd:3.5.17-1.2"]
    assert etcd["digest"] == images["containers/etcd:3.5.17-1.2"].digest
    assert etcd["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert etcd["platforms"] == ["linux/amd64", "linux/arm64"]
    assert results[SUSE_BUSYBOX]["detail"].startswith(
        "registry.suse.com is neither Harbor nor the upstream"
    )


def test_verify_strict_fails_on_images_harbor_does_not_serve(mirror, run):
    done = run("verify", *_render_args(mirror), *_target(mirror), "--strict")
    assert done.returncode == 1
    [row] = [line for line in done.stdout.splitlines() if line.startswith(SUSE_BUSYBOX + " ")]
    assert row.split()[1:3] == ["not", "mirrored"]
    assert done.stderr.count("\n") == 1
    assert f"1 of 4 references do not resolve through Harbor; first: {SUSE_BUSYBOX}: " in (
        done.stderr
    )


@pytest.mark.parametrize("output", ["table", "json"])
def test_verify_checks_references_outside_the_project_and_fails_when_they_do_not_resolve(
    mirror, run, output
):
    """The guide's own `--set global.imageRegistry=HARBOR/PROJECT`, one letter off: the
    images used to vanish from the output, exit 0, even with --strict."""
    typo = f"{mirror.host}/aplication-collection"
    done = run("verify", *_render_args(mirror), *_target(mirror), "-o", output, "--strict",
               "--set", f"global.imageRegistry={typo}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1
    assert f"first: {typo}/containers/etcd:3.5.17-1.2: unauthorized" in done.stderr
    if output == "json":
        results = {e["reference"]: e for e in json.loads(done.stdout)}
        etcd = results[f"{typo}/containers/etcd:3.5.17-1.2"]
        assert etcd["result"] == "unauthorized"
        assert etcd["detail"].startswith(
            "'aplication-collection' is not the mirror's project ('application-collection')"
        )
        assert "Harbor has no project 'aplication-collection'" in etcd["detail"]
        assert sum(e["reference"].startswith(typo) for e in results.values()) == 3
    else:
        assert f"{typo}/containers/etcd:3.5.17-1.2: 'aplication-collection' is not the " \
            "mirror's project" in done.stdout


def test_verify_passes_helm_short_flag_clusters_to_helm_template(mirror, run, tmp_path):
    """`-nharbor` and `-fo.yaml` are helm's `-n harbor` and `-f o.yaml`; read as clusters of
    one-letter options they printed help (the `h`) or took `-o` (verify's output format)."""
    values = tmp_path / "o.yaml"
    values.write_text('images:\n  kubectl:\n    tag: "9.9.9"\n')
    done = run("verify", "-nharbor", *_render_args(mirror), f"-f{values}", *_target(mirror),
               "-o", "json")  # fmt: skip
    assert done.returncode == 1, done.stderr
    results = {entry["reference"]: entry["result"] for entry in json.loads(done.stdout)}
    kubectl = f"{mirror.host}/application-collection/containers/kubectl"
    assert results[f"{kubectl}:9.9.9"] == "missing"  # the values file reached helm template
    assert f"{kubectl}:1.33.4" not in results


@pytest.mark.parametrize("ca_from", ["option", "environment"])
def test_verify_table_checks_the_chart_given_to_helm_template(mirror, run, ca_from):
    login = run.helm.run(
        "registry", "login", mirror.host, "--username", "admin", "--password-stdin",
        "--ca-file", mirror.harbor.ca_file, input="Harbor12345",
    )
    assert login.returncode == 0, login.stderr
    chart = f"oci://{mirror.host}/application-collection/charts/etcd-like"
    # helm template fetches the chart from Harbor: it needs the CA however verify was given it
    target, env = _target(mirror), {}
    if ca_from == "environment":
        target, env = ["--harbor-host", mirror.host], {"HARBOR_MIRROR_CA_FILE": target[3]}
    done = run(
        "verify", "demo", chart, "--version", "0.1.0",
        *pin_values(mirror), *target,
        extra_env=env,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["REFERENCE", "RESULT", "DIGEST", "MEDIA", "TYPE", "PLATFORMS"]
    assert lines[1].startswith(f"{chart}:0.1.0 ")
    assert len(lines) == 7
    assert all(line.split()[1] == "ok" for line in lines[1:5])
    assert lines[5].split()[:3] == [SUSE_BUSYBOX, "not", "mirrored"]
    assert lines[6].startswith(f"{SUSE_BUSYBOX}: registry.suse.com is neither Harbor nor")


def test_verify_reads_stdin_and_reports_missing_with_nonzero_exit(mirror, run, tmp_path):
    good = "dp.apps.rancher.io/containers/kubectl:1.33.4"
    missing = "dp.apps.rancher.io/containers/etcd:9.9.9"
    stream = _manifest(tmp_path, good, missing).read_text()
    done = run("verify", "-", *_target(mirror), input=stream)
    assert done.returncode == 1
    rows = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()[1:3]}
    assert rows == {
        f"{mirror.host}/application-collection/containers/kubectl:1.33.4": "ok",
        f"{mirror.host}/application-collection/containers/etcd:9.9.9": "missing",
    }
    assert done.stderr.count("\n") == 1
    assert "1 of 2 references do not resolve" in done.stderr
    assert "Traceback" not in done.stderr


def test_verify_says_harbor_may_not_sign_in_to_the_upstream_when_its_token_is_revoked(
    mirror, run, tmp_path
):
    """Harbor answers an upstream 401 on a manifest from its cache alone: 404 when uncached."""
    registry_id = add_proxy_project(mirror.harbor, mirror.upstream, "appco-revoked")
    mirror.harbor.state.registries[registry_id].access_secret = "revoked-token"
    path = _manifest(tmp_path, "dp.apps.rancher.io/containers/kubectl:1.33.4")
    done = run("verify", path, *_target(mirror), "--project", "appco-revoked", "-o", "json")
    assert done.returncode == 1
    [entry] = json.loads(done.stdout)
    assert entry["result"] == "missing"
    assert "Harbor may also have failed to reach or sign in to the upstream" in entry["detail"]
    assert "check the registry endpoint's health" in entry["detail"]
    assert "revoked-token" not in done.stdout + done.stderr


def test_verify_alone_caches_nothing_harbor_can_serve_without_the_upstream(mirror, run):
    """A manifest HEAD makes a proxy project store nothing, and an index GET only waits in
    Redis for its children: without --warm an upstream outage leaves nothing to pull."""
    assert run("verify", *_render_args(mirror), *_target(mirror)).returncode == 0
    down = _verify_with_the_upstream_down(mirror, run)
    assert down.returncode == 1
    results = {e["reference"].split("/")[-1]: e for e in json.loads(down.stdout)}
    assert {name: e["result"] for name, e in results.items() if e["result"] != "not mirrored"} == {
        "etcd:3.5.17-1.2": "missing",
        "kubectl:1.33.4": "missing",
        f"bci-busybox:15.6@{busybox_digest(mirror)}": "missing",
    }
    assert "failed to reach or sign in to the upstream" in results["kubectl:1.33.4"]["detail"]


def test_warm_keeps_every_blob_available_when_the_upstream_is_down(mirror, run):
    done = run("verify", *_render_args(mirror), *_target(mirror), "--warm")
    assert done.returncode == 0, done.stderr
    assert "warming: 12/12 blobs" in done.stderr
    total = sum(sum(image.blobs.values()) for image in mirror.upstream.images.values())
    assert f"warming: 12/12 blobs, {total / 1024:.1f} KiB of {total / 1024:.1f} KiB pulled" in (
        done.stderr
    )
    upstream = mirror.upstream.registry
    upstream.stop()
    try:
        again = run("verify", *_render_args(mirror), *_target(mirror))
        assert again.returncode == 0, again.stdout + again.stderr
        with harbor_client(mirror.harbor) as client:
            for name, image in mirror.upstream.images.items():
                repository = f"application-collection/{name.partition(':')[0]}"
                for digest in image.blobs:
                    response = _pull_blob(client, repository, digest)
                    assert response.status_code == 200, (repository, digest)
                    assert "sha256:" + hashlib.sha256(response.content).hexdigest() == digest
    finally:
        upstream.start()


def test_warm_is_resumable_and_limited_to_the_platforms_asked(mirror, run):
    args = [*_render_args(mirror), *_target(mirror), "--warm", "-o", "json"]

    def warmed(done):
        assert done.returncode == 0, done.stderr
        return {
            e["reference"].split("/")[-1]: e["warm"]
            for e in json.loads(done.stdout)
            if e["reference"].startswith(mirror.host)
        }

    busybox = "bci-busybox:15.6@" + busybox_digest(mirror)
    first = warmed(run("verify", *args, "--platform", "linux/arm64"))
    # Indexes: arm64's config and layer only; a single-platform image is pulled as it is.
    assert {name: w["pulled"] for name, w in first.items()} == {
        "etcd:3.5.17-1.2": 2, "kubectl:1.33.4": 2, busybox: 2,
    }
    second = warmed(run("verify", *args))
    assert {name: (w["pulled"], w["cached"]) for name, w in second.items()} == {
        "etcd:3.5.17-1.2": (2, 2),
        "kubectl:1.33.4": (4, 2),
        busybox: (0, 2),
    }


def test_warm_of_one_platform_keeps_the_tag_pullable_when_the_upstream_is_down(mirror, run):
    """Harbor stores an index trimmed to the warmed platform; the tag stays on it only when the
    index was fetched by digest (`manifestcache.go:cacheTrimmedDigest`, `EnsureTag`)."""
    warm = run("verify", *_render_args(mirror), *_target(mirror), "--warm",
               "--platform", "linux/arm64")  # fmt: skip
    assert warm.returncode == 0, warm.stderr
    mirror.harbor.settle()  # Harbor's wait for the other platforms ran out
    down = _verify_with_the_upstream_down(mirror, run)
    assert down.returncode == 0, down.stdout + down.stderr
    results = {e["reference"].split("/")[-1]: e for e in json.loads(down.stdout)}
    for name in ("etcd:3.5.17-1.2", "kubectl:1.33.4"):
        assert (results[name]["result"], results[name]["platforms"]) == ("ok", ["linux/arm64"])


def test_warm_backs_off_on_429(mirror, run):
    mirror.harbor.inject_fault(status=429, retry_after=0, count=3, method="GET")
    done = run("verify", *_render_args(mirror), *_target(mirror), "--warm")
    assert done.returncode == 0, done.stderr
    assert "warming: 12/12 blobs" in done.stderr
    assert [e.response.status for e in mirror.harbor.exchanges].count(429) == 3


def test_warm_outlasting_the_registry_token_signs_in_again(mirror, run):
    """Harbor answers an expired token as anonymous, with `Basic realm="harbor"`."""
    mirror.harbor.token_seconds = 1
    # every HEAD takes 0.3 s: the first repository's token has expired before warming starts
    mirror.harbor.inject_fault(method="HEAD", delay=0.3, count=1000)
    done = run("verify", *_render_args(mirror), *_target(mirror), "--warm")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warming: 12/12 blobs" in done.stderr
    refused = [e for e in mirror.harbor.exchanges
               if e.response.status == 401 and e.request.path.startswith("/v2/")
               and ("www-authenticate", 'Basic realm="harbor"') in
               [(k.lower(), v) for k, v in e.response.headers]]
    assert refused, "no request outlasted its token"


def test_chart_url_prints_the_harbor_url(run, mirror):
    done = run("chart-url", "oci://dp.apps.rancher.io/charts/etcd", "--harbor-host", mirror.host)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"oci://{mirror.host}/application-collection/charts/etcd\n"
    other = run("chart-url", "oci://registry.suse.com/charts/etcd", "--harbor-host", mirror.host)
    assert other.returncode == 2
    assert other.stderr.count("\n") == 1


def test_postrender_verify_fails_the_install_when_a_reference_is_missing(mirror, run, tmp_path):
    stream = _manifest(tmp_path, "dp.apps.rancher.io/containers/etcd:9.9.9").read_text()
    env = {"HARBOR_MIRROR_CA_FILE": mirror.harbor.ca_file}
    failed = run("--harbor-host", mirror.host, "--verify", input=stream, extra_env=env)
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert "etcd:9.9.9: missing" in failed.stderr
    good = stream.replace("9.9.9", "3.5.17-1.2")
    passed = run("--harbor-host", mirror.host, "--verify", input=good, extra_env=env)
    assert passed.returncode == 0, passed.stderr
    assert f"image: {mirror.host}/application-collection/containers/etcd:3.5.17-1.2" in (
        passed.stdout
    )


def _pull_blob(client, repository, digest):
    """GET a blob from Harbor the way a kubelet does: token for the scope, then Bearer."""
    token = pull_token(client, repository).json()["token"]
    return client.get(
        f"/v2/{repository}/blobs/{digest}", headers={"Authorization": f"Bearer {token}"}
    )


def _robot_secret_file(mirror, tmp_path):
    """A pull-only robot on the project, and the Secret manifest setup would write for it."""
    from postrender.bootstrap.robot import secret_manifest

    with harbor_client(mirror.harbor, API_PREFIX) as api:
        created = api.post(
            "/robots",
            auth=("admin", "Harbor12345"),
            json={
                "name": "ci-pull", "level": "project", "duration": -1,
                "permissions": [{"kind": "project", "namespace": mirror.project,
                                 "access": [{"resource": "repository", "action": "pull"}]}],
            },
        )
    assert created.status_code == 201, created.text
    robot = created.json()
    path = tmp_path / "pull-secret.json"
    path.write_text(secret_manifest("harbor-pull", mirror.host, robot["name"], robot["secret"]))
    return path, robot["secret"]


def test_verify_uses_the_robot_secret_setup_writes(mirror, run, tmp_path):
    secret_file, secret = _robot_secret_file(mirror, tmp_path)
    path = _manifest(tmp_path, "dp.apps.rancher.io/containers/kubectl:1.33.4")
    anonymous = {"HARBOR_MIRROR_USERNAME": "", "HARBOR_MIRROR_HARBOR_PASSWORD": ""}
    done = run("verify", path, *_target(mirror), "--secret-file", secret_file, extra_env=anonymous)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split()[1] == "ok"
    assert secret not in done.stdout + done.stderr
    refused = run("verify", path, *_target(mirror), extra_env=anonymous)
    assert refused.returncode == 1
    assert "unauthorized" in refused.stdout
    assert "Harbor refused an anonymous pull (a private project)" in refused.stdout


def test_verify_names_a_project_harbor_does_not_have(mirror, run, tmp_path):
    """A misspelt --project: Harbor refuses with an empty challenge, whoever asks."""
    path = _manifest(tmp_path, "dp.apps.rancher.io/containers/kubectl:1.33.4")
    done = run("verify", path, *_target(mirror), "--project", "appco-typo", "-o", "json")
    assert done.returncode == 1
    [entry] = json.loads(done.stdout)
    assert entry["result"] == "unauthorized"
    assert entry["detail"].startswith("401: Harbor has no project 'appco-typo': check --project")


def test_verify_with_a_wrong_robot_secret_blames_the_secret_not_the_upstream(
    mirror, run, tmp_path
):
    """Harbor's token service grants nothing to bad credentials; the registry then refuses."""
    from postrender.bootstrap.robot import secret_manifest

    _robot_secret_file(mirror, tmp_path)  # the robot exists; its secret is not the one given
    wrong = tmp_path / "wrong-secret.json"
    name = f"robot${mirror.project}+ci-pull"
    wrong.write_text(secret_manifest("harbor-pull", mirror.host, name, "not-the-secret"))
    path = _manifest(tmp_path, "dp.apps.rancher.io/containers/kubectl:1.33.4")
    anonymous = {"HARBOR_MIRROR_USERNAME": "", "HARBOR_MIRROR_HARBOR_PASSWORD": ""}
    done = run("verify", path, *_target(mirror), "--secret-file", wrong, "-o", "json",
               extra_env=anonymous)
    assert done.returncode == 1
    [entry] = json.loads(done.stdout)
    assert entry["result"] == "unauthorized"
    assert "Harbor refused these credentials, or they may not pull from the project" in (
        entry["detail"]
    )
    assert "upstream" not in entry["detail"]


def test_a_chart_harbor_refuses_to_a_stale_robot_secret_says_it_may_have_been_rotated(
    mirror, run, tmp_path
):
    """Issue 16: after a rotation on another workstation, Helm's bare 401 for the chart was
    all a user saw; the line now says what the 401 may mean and where the current file is."""
    from postrender.bootstrap.robot import secret_manifest

    _robot_secret_file(mirror, tmp_path)
    stale = tmp_path / "stale-secret.json"
    name = f"robot${mirror.project}+ci-pull"
    stale.write_text(secret_manifest("harbor-pull", mirror.host, name, "the-old-secret"))
    anonymous = {"HARBOR_MIRROR_USERNAME": "", "HARBOR_MIRROR_HARBOR_PASSWORD": ""}
    done = run("verify", "demo", "oci://dp.apps.rancher.io/charts/etcd-like", "--version",
               "0.1.0", *_target(mirror), "--secret-file", stale, extra_env=anonymous)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert "response status code 401" in line
    assert line.endswith(
        "once the robot's secret has been rotated (setup --rotate-robot-secret on another "
        "workstation, or in Harbor's UI) every older copy of that file is refused: copy the "
        "current one from where it was rotated"
    )
    assert "the-old-secret" not in done.stderr


def test_a_chart_harbor_refuses_to_an_expired_robot_points_at_repair_robot(
    mirror, run, tmp_path
):
    """Harbor's UI makes expiring robots, and setup keeps one with a warning; the day it
    expires, Harbor takes its credentials as anonymous. The line must not only talk of a
    rotated secret, which copying files would not fix."""
    secret_file, _ = _robot_secret_file(mirror, tmp_path)
    (robot,) = mirror.harbor.state.robots.values()
    robot.duration, robot.expires_at = 30, int(time.time()) - 60
    anonymous = {"HARBOR_MIRROR_USERNAME": "", "HARBOR_MIRROR_HARBOR_PASSWORD": ""}
    done = run("verify", "demo", "oci://dp.apps.rancher.io/charts/etcd-like", "--version",
               "0.1.0", *_target(mirror), "--secret-file", secret_file, extra_env=anonymous)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert "response status code 401" in line
    assert "a robot that expired or was disabled is refused (setup --repair-robot)" in line


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["verify", "-"], {}, "no Harbor host configured"),
        (["verify", "-", "--harbor-host", "h.example", "--secret-file", "/nonexistent"], {},
         "--secret-file /nonexistent: cannot read it"),
        (["verify", "-", "--harbor-host", "h.example"], {"HARBOR_MIRROR_HARBOR_PASSWORD": ""},
         "HARBOR_MIRROR_HARBOR_PASSWORD is not set"),
        (["verify", "demo", "/nonexistent/chart", "--harbor-host", "h.example"], {},
         "helm template failed"),
        # a typo in a rendered manifest's name is that file missing, not a chart helm lacks
        (["verify", "/nonexistent/rendered.yaml", "--harbor-host", "h.example"], {},
         "cannot read /nonexistent/rendered.yaml: no such file"),
        # a flag that would do nothing is refused, not ignored: no lock was written or updated
        (["verify", "-", "--harbor-host", "h.example", "--update-lock"], {},
         "--update-lock goes with --write-lock"),
    ],
)
def test_verify_bad_input_is_one_line(run, args, env, message):
    done = run(*args, input="", extra_env=env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert message in done.stderr
    assert "Harbor12345" not in done.stderr


def test_verify_names_the_file_a_bad_stream_came_from(run, tmp_path):
    rendered = tmp_path / "rendered.yaml"
    rendered.write_bytes(b"kind: Pod\nimage: dp.apps.rancher.io/containers/etcd:3.5\n\0\n")
    done = run("verify", rendered, "--harbor-host", "h.example")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (f"harbor-mirror: error: {rendered} document 1, line 3: binary data "
                           "(NUL byte), not a YAML manifest stream\n")
    rendered.write_text("kind: Pod\nimage: dp.apps.rancher.io/containers/etcd:3.5\nx: [\n")
    done = run("verify", rendered, "--harbor-host", "h.example")
    assert done.stderr.startswith(f"harbor-mirror: error: {rendered} document 1, line 4: "
                                  "invalid YAML"), done.stderr


@pytest.mark.parametrize("command", ["verify", "chart-url"])
def test_help_names_every_option(run, command):
    done = run(command, "--help")
    assert done.returncode == 0
    for option in ("--harbor-host", "--project", "--upstream", "--config"):
        assert option in done.stdout
    if command == "verify":
        for option in ("--warm", "--platform", "--output", "--secret-file", "--ca-file",
                       "--strict"):
            assert option in done.stdout


def test_verify_says_when_harbor_cannot_be_reached_or_nothing_is_found(run, tmp_path):
    path = _manifest(tmp_path, "dp.apps.rancher.io/containers/kubectl:1.33.4")
    down = run("verify", path, "--harbor-host", "127.0.0.1:9", "--plain-http")
    assert down.returncode == 1
    assert down.stderr.count("\n") == 1
    assert "cannot reach Harbor at http://127.0.0.1:9" in down.stderr
    nothing = run("verify", "-", "--harbor-host", "127.0.0.1:9", input="kind: ConfigMap\n")
    assert nothing.returncode == 0
    assert "no reference to 127.0.0.1:9/application-collection found" in nothing.stderr


def test_verify_chart_urls_without_version(mirror, run, tmp_path):
    charts = f"oci://{mirror.host}/application-collection/charts"
    path = tmp_path / "flux.yaml"
    path.write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: r\n"
        "spec:\n  type: oci\n  url: oci://dp.apps.rancher.io/charts\n---\n"
        "apiVersion: source.toolkit.fluxcd.io/v1beta2\nkind: OCIRepository\nmetadata:\n"
        "  name: c\nspec:\n  url: oci://dp.apps.rancher.io/charts/etcd-like\n"
    )
    done = run("verify", path, *_target(mirror), "-o", "json")
    assert done.returncode == 0, done.stderr
    results = {e["reference"]: (e["result"], e["detail"]) for e in json.loads(done.stdout)}
    assert results == {
        charts: ("skipped", "no versions listed: a chart repository prefix"),
        f"{charts}/etcd-like": ("ok", "1 versions listed"),
    }


def test_verify_a_misspelled_chart_url_without_version_is_missing(mirror, run, tmp_path):
    """A proxy project lists no tags, with 200, for a repository the upstream lacks."""
    path = tmp_path / "flux.yaml"
    path.write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1beta2\nkind: OCIRepository\nmetadata:\n"
        "  name: c\nspec:\n  url: oci://dp.apps.rancher.io/charts/etcd-lkie\n"
    )
    done = run("verify", path, *_target(mirror), "-o", "json")
    assert done.returncode == 1
    [entry] = json.loads(done.stdout)
    assert entry["result"] == "missing"
    assert entry["detail"].startswith("no versions listed: no chart here")
    assert "charts/etcd-lkie: missing" in done.stderr


def test_verify_signs_helm_template_in_with_the_username_password_pair(mirror, run):
    """No Secret file and no `helm registry login`: the HARBOR_MIRROR_USERNAME/_HARBOR_PASSWORD
    pair that signs in the /v2/ checks signs in helm template's pull from the private project
    too (through a temporary registry config, as with the robot's Secret)."""
    chart = "oci://dp.apps.rancher.io/charts/etcd-like"
    done = run("verify", "demo", chart, "--version", "0.1.0", *pin_values(mirror), *_target(mirror))
    assert done.returncode == 0, done.stderr
    harbor_chart = f"oci://{mirror.host}/application-collection/charts/etcd-like:0.1.0"
    assert done.stdout.splitlines()[1].split()[:2] == [harbor_chart, "ok"]
    assert "Harbor12345" not in done.stdout + done.stderr


def test_a_wrapper_signs_helm_in_with_the_username_password_pair(mirror, run, tmp_path):
    """`harbor-mirror pull` of a private project's chart with only the pair: the wrappers follow
    the same credential rule as verify (Helm's own registry config holds no login)."""
    env = {"HARBOR_MIRROR_HARBOR_HOST": mirror.host, "HARBOR_MIRROR_CA_FILE": mirror.harbor.ca_file}
    done = run("pull", "oci://dp.apps.rancher.io/charts/etcd-like", "--version", "0.1.0",
               "-d", tmp_path, extra_env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "etcd-like-0.1.0.tgz").is_file()
    assert "Harbor12345" not in done.stdout + done.stderr
