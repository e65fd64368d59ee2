"""The wrappers' `--verify --signatures` through the installed plugin (real Helm 4 and Helm 3):
cosign signatures made here, on a real upstream, checked through the emulator before anything
is rendered out; for an `oci://` chart, the chart's own signature too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cosign_signing import sign
from tests.support.fixtures_plugin import Plugin
from tests.support.fixtures_registry import ADMIN_ENV
from tests.support.fixtures_signed import PROJECT, Signed, push_helm_chart
from tests.support.oci_content import Pusher

POD = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n"
       "    - name: c\n      image: dp.apps.rancher.io/{image}\n")


def _chart(root: Path, image: str) -> Path:
    chart = root / "signed-app"
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: signed-app\nversion: 0.1.0\n")
    (chart / "templates" / "pod.yaml").write_text(POD.format(image=image))
    return chart


@pytest.fixture(scope="module")
def oci_charts(signed: Signed) -> None:
    """charts/signed-app:0.1.0 (signed) and charts/unsigned-app:0.1.0 on the upstream, both
    rendering the signed image containers/plain:1.0: only the chart's signature tells them
    apart."""
    with signed.upstream.registry.client() as client:
        pusher = Pusher(client)
        for name in ("signed-app", "unsigned-app"):
            chart = push_helm_chart(pusher, name,
                                    {"pod.yaml": POD.format(image="containers/plain:1.0")})
            if name == "signed-app":
                sign(pusher, chart.repository, chart.digest, signed.signer)


@pytest.fixture
def run(plugin: Plugin, signed_harbor, signed: Signed, tmp_path: Path):
    """`helm harbor-mirror template demo IMAGE-or-CHART ARGS` (`command=` another subcommand),
    KEY in ARGS standing for the signer's public key file."""
    key = tmp_path / "key.pem"
    key.write_bytes(signed.signer.pem)
    env = {**ADMIN_ENV, "HARBOR_MIRROR_HARBOR_HOST": signed_harbor.url.removeprefix("https://"),
           "HARBOR_MIRROR_PROJECT": PROJECT, "HARBOR_MIRROR_CA_FILE": signed_harbor.ca_file}

    def template(image: str, *args: str, command: str = "template"):
        chart = image if image.startswith("oci://") else _chart(tmp_path, image)
        return plugin.env.run("harbor-mirror", command, "demo", chart,
                              *[a.replace("KEY", str(key)) for a in args], extra_env=env)

    return template


def _ours(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("harbor-mirror: error: ")]


def test_verify_signatures_passes_a_signed_image(run) -> None:
    done = run("containers/plain:1.0", "--verify", "--signatures", "--key", "KEY")
    assert done.returncode == 0, done.stderr
    assert f"/{PROJECT}/containers/plain:1.0" in done.stdout


def test_verify_signatures_refuses_a_tampered_one_before_anything_is_rendered_out(run) -> None:
    done = run("containers/tampered:1.0", "--verify", "--signatures", "--key=KEY")
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = _ours(done.stderr)
    assert "containers/tampered:1.0: signature invalid (not signed by a trusted key" in line


def test_without_signatures_the_same_image_passes_verify(run) -> None:
    """The failure above is the signature's, not the reference's."""
    done = run("containers/tampered:1.0", "--verify")
    assert done.returncode == 0, done.stderr


def test_signatures_without_verify_is_refused(run) -> None:
    done = run("containers/plain:1.0", "--signatures")
    assert done.returncode == 2
    assert _ours(done.stderr) == [
        "harbor-mirror: error: template: --signatures, --attestations and --key go with --verify"]


@pytest.mark.usefixtures("oci_charts")
def test_verify_signatures_passes_a_signed_chart(run) -> None:
    done = run("oci://dp.apps.rancher.io/charts/signed-app", "--version", "0.1.0", "--verify",
               "--signatures", "--key", "KEY")
    assert done.returncode == 0, done.stderr
    assert f"/{PROJECT}/containers/plain:1.0" in done.stdout


@pytest.mark.usefixtures("oci_charts")
def test_verify_signatures_refuses_an_unsigned_chart_whose_images_are_signed(run) -> None:
    done = run("oci://dp.apps.rancher.io/charts/unsigned-app", "--version", "0.1.0", "--verify",
               "--signatures", "--key", "KEY")
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = _ours(done.stderr)
    assert f"/{PROJECT}/charts/unsigned-app:0.1.0: signature missing" in line
    assert "through Harbor" in line  # names the chart, as the post-renderer's failures do


@pytest.mark.usefixtures("oci_charts")
def test_a_locked_verified_template_asks_the_upstream_nothing(
    run, plugin: Plugin, signed: Signed, tmp_path: Path
) -> None:
    # verify --warm --signatures --write-lock records the chart's and the image's signature
    # digests; with the lock, the chart, the image and both signatures are asked by digest,
    # which Harbor answers from what it stores (controller/proxy/controller.go UseLocalManifest)
    chart = ["oci://dp.apps.rancher.io/charts/signed-app", "--version", "0.1.0"]
    lock = tmp_path / "lock.yaml"
    warmed = run(*chart, "--warm", "--signatures", "--key", "KEY", "--write-lock", str(lock),
                 command="verify")
    assert warmed.returncode == 0, warmed.stdout + warmed.stderr
    record = Path(plugin.env.env["HELM_CACHE_HOME"], "harbor-mirror", "signatures.json")
    record.unlink()  # what warming recorded would also give the digests: only the lock does
    before = len(signed.upstream.registry.requests())
    done = run(*chart, "--lock", str(lock), "--verify", "--signatures", "--key", "KEY")
    assert done.returncode == 0, done.stderr
    assert f"/{PROJECT}/containers/plain:1.0@sha256:" in done.stdout
    assert signed.upstream.registry.requests()[before:] == []
