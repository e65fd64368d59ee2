"""Air-gapped end to end: chart, subcharts, images and Helm's login all go through Harbor.

The workstation reaches only Harbor (the HTTPS emulator: a private proxy-cache project of the
real `docker-registry` upstream, or a replication destination holding copies while the upstream
is down): `dp.apps.rancher.io` resolves nowhere and every helm run gets a proxy that refuses
anything but loopback. The user types the upstream chart URL, exactly as
Application Collection documents it; Helm 4 and Helm 3 each run in a throw-away home.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.harbor_emulator import ADMIN_PASSWORD
from tests.support.fixtures_airgap import (
    CHART_URL,
    CHART_VERSION,
    NO_ROUTE,
    UPSTREAM_HOST,
    Airgap,
    basic_user,
    robot_username,
    umbrella_chart,
)
from tests.support.fixtures_plugin import Plugin
from tests.support.fixtures_registry import CHART, Mirror, busybox_digest

REPO = Path(__file__).resolve().parents[2]

UPSTREAM = re.compile(r"(?<![\w.-])dp\.apps\.rancher\.io(?![\w.-])")
IMAGE = re.compile(r"""(?m)^\s*-?\s*image: ["']?([^"'\s]+)""")


def _ours(stderr: str) -> list[str]:
    """stderr without the line Helm adds when a plugin command fails."""
    return [line for line in stderr.splitlines() if not line.startswith("Error: plugin ")]


def _documents(stream: str) -> list[str]:
    return [doc for doc in re.split(r"(?m)^---\s*$", stream) if doc.strip()]


def _hook_job(stream: str) -> str:
    (job,) = [doc for doc in _documents(stream) if "helm.sh/hook: pre-install" in doc]
    return job


def _assert_every_image_through_harbor(airgap: Airgap, stream: str) -> None:
    images = IMAGE.findall(stream)
    assert len(images) >= 4
    assert [i for i in images if not i.startswith(airgap.target + "/")] == []
    assert not UPSTREAM.search(stream)


def _assert_chart_pulled_as_the_robot(airgap: Airgap, chart: str = "charts/etcd-like") -> None:
    requests = airgap.requests_since_setup()  # setup itself signs in as the admin
    pulls = [r for r in requests if r.method == "GET"
             and r.path == f"/v2/{airgap.project}/{chart}/manifests/{CHART_VERSION}"]
    assert pulls, "Helm never asked Harbor for the chart"
    tokens = [r for r in requests if r.path == "/service/token"]
    assert tokens
    assert {basic_user(r.headers.get("authorization", "")) for r in tokens} == {
        robot_username(airgap)
    }


def test_setup_remembers_the_ca_and_secret_file_and_prints_an_air_gapped_next_step(
    airgap: Airgap,
) -> None:
    config = airgap.config.read_text()
    assert f'caFile: "{airgap.mirror.harbor.ca_file}"' in config
    assert f'secretFile: "{airgap.secret_file}"' in config
    assert "password" not in config.lower() and "auth" not in config
    next_steps = airgap.setup_output.split("Next:\n", 1)[1]
    assert f"helm harbor-mirror install <release> oci://{UPSTREAM_HOST}/charts/<chart>" in (
        next_steps
    )
    assert "--post-renderer" not in next_steps


def test_template_of_the_upstream_chart_url_comes_through_harbor(airgap: Airgap) -> None:
    before = airgap.user_registry_config.read_bytes()

    done = airgap.run("harbor-mirror", "template", "demo", CHART_URL, "--version",
                      CHART_VERSION, "-n", "demo-ns", *airgap.values())

    assert done.returncode == 0, done.stderr
    _assert_every_image_through_harbor(airgap, done.stdout)
    job = _hook_job(done.stdout)  # Helm 3 renders it without post-rendering it
    assert f"image: \"{airgap.target}/containers/kubectl:1.33.4\"" in job
    _assert_chart_pulled_as_the_robot(airgap)
    assert airgap.user_registry_config.read_bytes() == before


def test_install_dry_run_fetches_the_chart_through_harbor(airgap: Airgap) -> None:
    before = airgap.user_registry_config.read_bytes()

    done = airgap.run("harbor-mirror", "install", "demo", CHART_URL, "--version",
                      CHART_VERSION, "--dry-run=client", *airgap.values())

    _assert_chart_pulled_as_the_robot(airgap)
    assert airgap.user_registry_config.read_bytes() == before
    if airgap.plugin.major == 4:
        assert done.returncode == 0, done.stderr
        _assert_every_image_through_harbor(airgap, done.stdout)
    else:  # Helm 3's install --dry-run needs a cluster; the chart came through Harbor first
        assert done.returncode == 1
        assert done.stdout == ""
        (line,) = _ours(done.stderr)
        assert "Kubernetes cluster unreachable" in line
        assert f"(chart through Harbor: {airgap.harbor_chart})" in done.stderr


def test_a_missing_chart_names_the_harbor_url_tried(airgap: Airgap) -> None:
    done = airgap.run("harbor-mirror", "template", "demo", CHART_URL, "--version", "9.9.9")

    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = _ours(done.stderr)
    assert line.startswith("harbor-mirror: error: helm template failed (exit 1): ")
    assert line.endswith(f"(chart through Harbor: {airgap.harbor_chart})")


def test_own_post_renderer_is_refused(airgap: Airgap) -> None:
    done = airgap.run("harbor-mirror", "template", "demo", CHART_URL, "--post-renderer", "x")

    assert done.returncode == 2
    assert done.stdout == ""
    assert _ours(done.stderr) == [
        "harbor-mirror: error: template: --post-renderer is not allowed here: this command "
        "attaches the harbor-mirror post-renderer itself; run plain helm to use another one"
    ]


def test_verify_flag_refuses_a_reference_harbor_cannot_serve(airgap: Airgap) -> None:
    args = ["harbor-mirror", "template", "demo", CHART_URL, "--version", CHART_VERSION,
            *airgap.values(), "--verify"]
    passed = airgap.run(*args)
    failed = airgap.run(*args, "--set", "images.etcd.tag=9.9.9")

    assert passed.returncode == 0, passed.stderr
    assert failed.returncode == 1
    assert failed.stdout == ""
    (line,) = _ours(failed.stderr)  # Helm 4 drops the post-renderer's stderr: it is kept
    assert f"{airgap.target}/containers/etcd:9.9.9: missing" in line
    assert line.endswith(f"(chart through Harbor: {airgap.harbor_chart})")


def test_pull_fetches_the_chart_archive_from_harbor(airgap: Airgap) -> None:
    dest = airgap.secret_file.parent / "pulled"
    dest.mkdir()
    done = airgap.run("harbor-mirror", "pull", CHART_URL, "--version", CHART_VERSION,
                      "-d", dest)

    assert done.returncode == 0, done.stderr
    assert (dest / f"etcd-like-{CHART_VERSION}.tgz").is_file()
    _assert_chart_pulled_as_the_robot(airgap)


def test_verify_and_overlay_take_the_upstream_url_with_no_flags(airgap: Airgap) -> None:
    verified = airgap.run("harbor-mirror", "verify", "demo", CHART_URL, "--version",
                          CHART_VERSION, *airgap.values())
    overlay = airgap.run("harbor-mirror", "overlay", "--out", airgap.secret_file.parent / "ov",
                         "demo", CHART_URL, "--version", CHART_VERSION, *airgap.values(),
                         "--set", "upstreamPullSecret.create=false")  # no Secret for Git

    assert verified.returncode == 0, verified.stderr
    assert re.search(rf"(?m)^{re.escape(airgap.harbor_chart)}:{CHART_VERSION}\s+ok\s",
                     verified.stdout)
    assert overlay.returncode == 0, overlay.stderr
    assert "wrote " in overlay.stdout


def test_dependency_build_fetches_upstream_subcharts_through_harbor(airgap: Airgap) -> None:
    chart = umbrella_chart(airgap.secret_file.parent)
    chart_yaml = (chart / "Chart.yaml").read_bytes()

    built = airgap.run("harbor-mirror", "dependency", "build", chart)

    assert built.returncode == 0, built.stderr
    assert (chart / "Chart.yaml").read_bytes() == chart_yaml
    assert sorted(p.name for p in (chart / "charts").iterdir()) == ["etcd-like-0.1.0.tgz"]
    lock = (chart / "Chart.lock").read_text()
    assert f"repository: oci://{UPSTREAM_HOST}/charts\n" in lock
    assert "version: 0.1.0\n" in lock
    _assert_chart_pulled_as_the_robot(airgap)
    # Plain helm accepts the lock as its own: it gets past the digest check and only then
    # fails to reach the upstream, as it must here.
    plain = airgap.run("dependency", "build", chart)
    assert plain.returncode != 0
    assert "out of sync" not in plain.stderr
    assert UPSTREAM_HOST in plain.stderr
    # A build with the lock fetches the locked version again and leaves the lock alone.
    (chart / "charts" / "etcd-like-0.1.0.tgz").unlink()
    again = airgap.run("harbor-mirror", "dependency", "build", chart)
    assert again.returncode == 0, again.stderr
    assert (chart / "Chart.lock").read_text() == lock
    assert (chart / "charts" / "etcd-like-0.1.0.tgz").is_file()

    rendered = airgap.run("harbor-mirror", "template", "demo", chart,
                          *[v.replace("images.", "etcd-like.images.")
                            .replace("logShipper.", "etcd-like.logShipper.")
                            for v in airgap.values()])  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    _assert_every_image_through_harbor(airgap, rendered.stdout)


def test_login_lets_plain_helm_pull_from_harbor_and_logout_forgets_it(airgap: Airgap) -> None:
    plain = ["template", "demo", airgap.harbor_chart, "--version", CHART_VERSION,
             "--ca-file", str(airgap.mirror.harbor.ca_file)]
    refused = airgap.run(*plain)
    login = airgap.run("harbor-mirror", "login")
    allowed = airgap.run(*plain)
    logout = airgap.run("harbor-mirror", "logout")

    assert refused.returncode != 0
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout
    assert allowed.returncode == 0, allowed.stderr
    assert logout.returncode == 0, logout.stderr
    assert airgap.mirror.host not in airgap.user_registry_config.read_text()
    secret = airgap.secret_file.read_text()
    assert secret not in login.stdout + login.stderr


def test_verify_flag_checks_hook_images_on_both_helms(airgap: Airgap) -> None:
    chart = airgap.secret_file.parent / "hooked"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: hooked\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("global:\n  imageRegistry: dp.apps.rancher.io\n")
    pod = ("      containers:\n        - name: c\n"
           "          image: {{ .Values.global.imageRegistry }}")
    (chart / "templates" / "app.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n"
        f"    spec:\n{pod}/containers/etcd:3.5.17-1.2\n"
    )
    (chart / "templates" / "hook.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: hook\n  annotations:\n"
        "    helm.sh/hook: pre-install\nspec:\n  template:\n"
        f"    spec:\n{pod}/containers/kubectl:9.9.9\n"
    )

    done = airgap.run("harbor-mirror", "template", "demo", chart, "--verify")

    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = _ours(done.stderr)
    assert f"{airgap.target}/containers/kubectl:9.9.9: missing" in line


def test_readme_quick_start_runs_as_written(
    plugin: Plugin, mirror: Mirror, tmp_path: Path
) -> None:
    """Each command of the README's quick start, with this setting's Harbor, upstream and chart
    put in for the README's examples; no cluster here, so kubectl is left out and Helm 4's
    install is a --dry-run (Helm 3's needs a cluster even then)."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Air-gapped quick start", 1)[1].split("\n## ", 1)[0]
    assert section.count("```") == 2, "every command block of the quick start must run here"
    block = section.split("```\n", 2)[1].replace("\\\n", " ")
    registry = mirror.upstream.registry
    values = tmp_path / "values.yaml"
    values.write_text(
        f"images:\n  volumePermissions:\n    digest: {busybox_digest(mirror)}\n"
        f"logShipper:\n  image: {UPSTREAM_HOST}/containers/bci-busybox:15.6\n"
    )
    put_in = {
        "https://core.harbor.domain": mirror.harbor.url,
        "harbor-ca.pem": str(mirror.harbor.ca_file),
        "my-service-account": registry.username, "pull-secret.json": str(tmp_path / "s.json"),
        "oci://dp.apps.rancher.io/charts/etcd": CHART_URL, "1.2.3": CHART_VERSION,
        "values.yaml": str(values),
    }  # fmt: skip
    env = {**NO_ROUTE, "HARBOR_MIRROR_HARBOR_PASSWORD": ADMIN_PASSWORD,
           "HARBOR_MIRROR_UPSTREAM_TOKEN": registry.password}  # fmt: skip
    config = Path(plugin.env.env["HELM_CONFIG_HOME"]) / "harbor-mirror" / "config.yaml"
    ran = []
    try:
        for line in block.splitlines():
            words = [put_in.get(word, word) for word in shlex.split(line, comments=True)]
            if not words or words[0] in ("export", "kubectl"):
                continue
            assert words[:2] == ["helm", "harbor-mirror"], line
            if words[2] == "setup":  # Harbor reaches this upstream by another URL than the charts'
                words += ["--upstream-url", registry.url, "--upstream-host", UPSTREAM_HOST]
            if words[2] == "install" and plugin.major == 4:
                words.append("--dry-run=client")
            done = plugin.env.run(*words[1:], extra_env=env)
            ran.append(words[2])
            if words[2] == "install" and plugin.major == 3:
                assert "Kubernetes cluster unreachable" in done.stderr
            else:
                assert done.returncode == 0, f"{line}\n{done.stderr}"
    finally:
        config.unlink(missing_ok=True)
    assert ran == ["setup", "verify", "install"]
    assert (tmp_path / "s.json").is_file()


def test_post_renderer_verify_signs_in_with_what_setup_remembered(airgap: Airgap) -> None:
    """Plain helm with the post-renderer's --verify: no HARBOR_MIRROR_* variable is set, so the
    robot and the CA can only come from the config file setup wrote."""
    assert not [name for name in airgap.plugin.env.env if name.startswith("HARBOR_MIRROR_")]
    done = airgap.run("template", "demo", CHART, "--post-renderer", "harbor-mirror",
                      "--post-renderer-args", "--verify", *airgap.values())

    assert done.returncode == 0, done.stderr
    assert f"image: {airgap.target}/containers/etcd:3.5.17-1.2" in done.stdout


def test_verify_secret_file_also_signs_in_its_own_helm_template(airgap: Airgap) -> None:
    """With a config that remembers no files, verify's --secret-file and --ca-file are what
    helm template fetches the chart from the private project with."""
    lines = airgap.config.read_text().splitlines(keepends=True)
    airgap.config.write_text("".join(
        line for line in lines if not line.startswith(("caFile:", "secretFile:"))
    ))  # fmt: skip
    done = airgap.run("harbor-mirror", "verify", "demo", CHART_URL, "--version", CHART_VERSION,
                      *airgap.values(), "--secret-file", airgap.secret_file,
                      "--ca-file", str(airgap.mirror.harbor.ca_file))  # fmt: skip

    assert done.returncode == 0, done.stderr
    _assert_chart_pulled_as_the_robot(airgap)


def test_dependency_update_flag_is_refused_for_upstream_subcharts(airgap: Airgap) -> None:
    """Helm's own --dependency-update fetches from the repository Chart.yaml names, the
    upstream; the wrappers and verify say so, naming the command that goes through Harbor."""
    chart = umbrella_chart(airgap.secret_file.parent)
    fix = f"run `helm harbor-mirror dependency build {chart}` first"

    commands: list[list[str | Path]] = [
        ["template", "demo", chart], ["install", "demo", chart, "--dry-run=client"],
        ["verify", "demo", chart],
    ]  # fmt: skip
    for args in commands:
        done = airgap.run("harbor-mirror", *args, "--dependency-update")

        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        (line,) = _ours(done.stderr)
        assert f"oci://{UPSTREAM_HOST}/" in line and fix in line, line
    assert not (chart / "charts").exists()
