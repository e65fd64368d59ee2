"""`harbor-mirror verify --signatures [--attestations] [--key FILE]...`, run as a user runs it,
against content signed here in cosign's format on a real upstream, through the emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from postrender import lock
from tests.support.cosign_signing import sign
from tests.support.fixtures_helm import isolated_helm_env
from tests.support.fixtures_registry import ADMIN_ENV, REPO_ROOT
from tests.support.fixtures_signed import PROJECT, push_helm_chart
from tests.support.oci_content import OCI_INDEX, Pusher
from tests.support.setup_runs import assert_one_line_error


class Verify:
    """`harbor-mirror verify FILE ... --harbor-host H --ca-file CA`, with its own Helm homes (the
    record of signed indexes lives in the Helm cache home)."""

    def __init__(self, harbor, signed, helm4, tmp_path: Path) -> None:
        self.harbor, self.signed, self.tmp_path = harbor, signed, tmp_path
        self.host = harbor.url.removeprefix("https://")
        self.env = {**isolated_helm_env(helm4, tmp_path / "helm").env, **ADMIN_ENV}
        self.key = tmp_path / "key.pem"
        self.key.write_bytes(signed.signer.pem)

    def manifest(self, *images: str) -> Path:
        path = self.tmp_path / "rendered.yaml"
        path.write_text("".join(
            f"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n  containers:\n"
            f"    - name: c\n      image: {self.host}/{PROJECT}/{image}\n"
            for i, image in enumerate(images)))
        return path

    def __call__(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "postrender.cli", "verify", *map(str, args),
             "--harbor-host", self.host, "--project", PROJECT, "--ca-file",
             str(self.harbor.ca_file)],
            capture_output=True, text=True, cwd=REPO_ROOT, env=self.env, timeout=120,
        )  # fmt: skip


@pytest.fixture
def verify(signed_harbor, signed, helm4, tmp_path) -> Verify:
    return Verify(signed_harbor, signed, helm4, tmp_path)


def test_signed_images_verify_in_the_table(verify):
    rendered = verify.manifest("containers/app:1.0", "containers/plain:1.0")
    done = verify(rendered, "--signatures", "--key", verify.key)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[-1] == "SIGNATURE"
    assert [row.split()[-1] for row in rows] == ["verified", "verified"]


def test_json_lists_each_platforms_own_result(verify):
    done = verify(verify.manifest("containers/halfsigned:1.0"), "--signatures", "--key",
                  verify.key, "-o", "json")
    assert done.returncode == 1
    [entry] = json.loads(done.stdout)
    signature = entry["signature"]
    assert signature["result"] == "missing"  # the index is not signed: a gap, not tampering
    assert [p["result"] for p in signature["platforms"]] == ["verified", "verified"]
    assert [p["platform"] for p in signature["platforms"]] == ["linux/amd64", "linux/arm64"]
    assert done.stderr.count("\n") == 1
    assert "containers/halfsigned:1.0: signature missing" in done.stderr


def test_tampering_fails_the_run_and_says_why(verify):
    done = verify(verify.manifest("containers/tampered:1.0", "containers/plain:1.0"),
                  "--signatures", "--key", verify.key)
    assert done.returncode == 1
    rows = done.stdout.splitlines()
    assert rows[1].split()[-1] == "invalid" and rows[2].split()[-1] == "verified"
    assert any(line.endswith("signature invalid: not signed by a trusted key (another key, or "
                             "the payload was changed)") for line in rows)
    assert "1 signature checks through Harbor are not verified" in done.stderr


def test_without_key_the_built_in_application_collection_key_is_the_trust(verify):
    """Content signed with a test key is not Application Collection's: invalid, not missing."""
    done = verify(verify.manifest("containers/plain:1.0"), "--signatures", "-o", "json")
    assert done.returncode == 1
    [entry] = json.loads(done.stdout)
    assert entry["signature"]["result"] == "invalid"


def test_attestations_get_their_own_column_and_key(verify):
    done = verify(verify.manifest("containers/app:1.0", "containers/unsigned:1.0"),
                  "--signatures", "--attestations", "--key", verify.key, "-o", "json")
    assert done.returncode == 1
    app, unsigned = json.loads(done.stdout)
    assert (app["signature"]["result"], app["attestation"]["result"]) == ("verified", "verified")
    assert unsigned["attestation"]["result"] == "missing"


def test_warm_keeps_signatures_verifying_with_the_upstream_stopped(verify, signed):
    rendered = verify.manifest("containers/app:1.0", "containers/plain:1.0")
    warmed = verify(rendered, "--warm", "--signatures", "--key", verify.key)
    assert warmed.returncode == 0, warmed.stderr
    with signed.upstream.registry.stopped():
        offline = verify(rendered, "--signatures", "--key", verify.key, "-o", "json")
    assert offline.returncode == 0, offline.stderr
    app, plain = json.loads(offline.stdout)
    assert app["digest"] != signed.images["containers/app:1.0"].digest  # Harbor's own list
    assert app["signature"]["digest"] == signed.images["containers/app:1.0"].digest
    assert plain["signature"]["result"] == "verified"


def test_help_says_platform_narrows_the_signature_checks_too():
    done = subprocess.run([sys.executable, "-m", "postrender.cli", "verify", "--help"],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "With --signatures/--attestations: only these platforms' signatures are checked" in (
        " ".join(done.stdout.split()))


@pytest.mark.parametrize(("args", "needle"), [
    (["--key", "KEY"], "--key needs --signatures or --attestations"),
    (["--signatures", "--key", "BAD"], "not a PEM public key"),
    (["--signatures", "--key", "ABSENT"], "cannot read it"),
])
def test_bad_keys_are_one_line_before_any_request(verify, args, needle):
    (verify.tmp_path / "bad.pem").write_text("hello")
    paths = {"KEY": verify.key, "BAD": verify.tmp_path / "bad.pem",
             "ABSENT": verify.tmp_path / "absent.pem"}
    done = verify(verify.manifest("containers/plain:1.0"), *[paths.get(a, a) for a in args])
    assert_one_line_error(done, 2, needle)
    assert done.stdout == ""
    assert [r for r in verify.harbor.requests if r.path.startswith(("/v2/", "/service/"))] == []


def test_write_lock_keeps_the_charts_signature_and_lock_reads_it_by_digest(verify, signed, helm4):
    # Application Collection signs its charts as it signs images: the lock carries the
    # chart's .sig digest beside its own, so a later check asks for neither by tag
    with signed.upstream.registry.client() as client:
        pusher = Pusher(client)
        pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n" \
              "    - name: c\n      image: dp.apps.rancher.io/containers/plain:1.0\n"
        chart = push_helm_chart(pusher, "locked-app", {"pod.yaml": pod})
        sign(pusher, chart.repository, chart.digest, signed.signer)
    verify.env["HELM_BIN"] = str(helm4)
    release = ["demo", "oci://dp.apps.rancher.io/charts/locked-app", "--version", "0.1.0",
               "--signatures", "--key", verify.key]
    lock_file = verify.tmp_path / "lock.yaml"
    warmed = verify(*release, "--warm", "--write-lock", lock_file)
    assert warmed.returncode == 0, warmed.stdout + warmed.stderr
    (locked,) = lock.read(lock_file).charts.values()
    assert locked.digest == chart.digest
    assert list(locked.signatures) == [chart.digest.replace(":", "-") + ".sig"]
    verify.harbor.clear_log()
    (Path(verify.env["HELM_CACHE_HOME"]) / "harbor-mirror" / "signatures.json").unlink()
    checked = verify(*release, "--lock", lock_file)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    asked = [r.path for r in verify.harbor.requests if "/charts/locked-app/manifests/" in r.path]
    assert not [path for path in asked if path.endswith((".sig", ".att"))]
    assert any(path.endswith("/manifests/" + digest) for digest in locked.signatures.values()
               for path in asked)


def test_write_lock_keeps_the_signatures_digests_and_lock_reads_them_by_digest(verify, signed):
    rendered = verify.manifest("containers/app:1.0", "containers/plain:1.0")
    lock_file = verify.tmp_path / "lock.yaml"
    warmed = verify(rendered, "--warm", "--signatures", "--key", verify.key,
                    "--platform", "linux/amd64", "--write-lock", lock_file)
    assert warmed.returncode == 0, warmed.stderr
    locked = lock.read(lock_file)
    app = locked.images[f"{verify.host}/{PROJECT}/containers/app:1.0"]
    plain = locked.images[f"{verify.host}/{PROJECT}/containers/plain:1.0"]
    index, amd64 = app.upstream, app.platforms["linux/amd64"]
    assert sorted(app.signatures) == sorted(
        digest.replace(":", "-") + ".sig" for digest in (index, amd64))
    assert list(plain.signatures) == [plain.upstream.replace(":", "-") + ".sig"]
    verify.harbor.clear_log()
    (Path(verify.env["HELM_CACHE_HOME"]) / "harbor-mirror" / "signatures.json").unlink()
    checked = verify(rendered, "--lock", lock_file, "--signatures", "--key", verify.key,
                     "--platform", "linux/amd64")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    asked = [r.path.rpartition("/")[2] for r in verify.harbor.requests
             if "/manifests/" in r.path]
    assert not [reference for reference in asked if reference.endswith((".sig", ".att"))]
    for image in (app, plain):  # the pinned manifest's own signature, read by its digest
        assert image.signatures[image.pin.replace(":", "-") + ".sig"] in asked


def test_write_lock_with_the_upstream_stopped_pins_the_recorded_upstream_index(verify, signed):
    rendered = verify.manifest("containers/app:1.0")
    warmed = verify(rendered, "--warm", "--signatures", "--key", verify.key)
    assert warmed.returncode == 0, warmed.stderr
    lock_file = verify.tmp_path / "lock.yaml"
    with signed.upstream.registry.stopped():
        written = verify(rendered, "--write-lock", lock_file)
    assert written.returncode == 0, written.stderr
    app = lock.read(lock_file).images[f"{verify.host}/{PROJECT}/containers/app:1.0"]
    assert app.pin == app.upstream == signed.images["containers/app:1.0"].digest
    assert app.harbor not in ("", app.upstream)  # what Harbor served: its own list


def test_an_upstream_index_written_as_harbor_rebuilds_one_is_locked_once_its_signature_shows(
    verify, signed
):
    # `docker manifest push` writes an index as Harbor writes its rebuilt list (distribution's
    # FromDescriptors, three-space indent): while Harbor reaches the upstream it serves those
    # very bytes, which nothing tells from Harbor's own list but their verified signature.
    with signed.upstream.registry.client() as client:
        pusher = Pusher(client)
        built = pusher.image("containers/handmade", "1.0", ["linux/amd64", "linux/arm64"])
        children = client.get("/v2/containers/handmade/manifests/1.0",
                              headers={"Accept": OCI_INDEX}).json()["manifests"]
        as_go = [{"mediaType": c["mediaType"], "size": c["size"], "digest": c["digest"],
                  "platform": {"architecture": c["platform"]["architecture"],
                               "os": c["platform"]["os"]}} for c in children]
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": as_go},
                           indent=3).encode()
        digest = pusher.manifest(built.repository, built.tag, OCI_INDEX, index)
        for signed_digest in (digest, *(c["digest"] for c in children)):
            sign(pusher, built.repository, signed_digest, signed.signer)
    rendered = verify.manifest("containers/handmade:1.0")
    lock_file = verify.tmp_path / "lock.yaml"
    refused = verify(rendered, "--write-lock", lock_file)
    assert_one_line_error(refused, 1, "or an upstream index written alike")
    assert "run verify --signatures --write-lock while Harbor reaches the upstream" in \
        refused.stderr
    assert not lock_file.exists()
    done = verify(rendered, "--signatures", "--key", verify.key, "--write-lock", lock_file)
    assert done.returncode == 0, done.stdout + done.stderr
    handmade = lock.read(lock_file).images[f"{verify.host}/{PROJECT}/containers/handmade:1.0"]
    assert handmade.pin == handmade.upstream == digest
