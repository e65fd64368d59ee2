"""The pin pass: each Harbor reference by tag gains its locked digest and nothing else changes;
what the lock does not know, or knows by another digest, is refused."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from postrender.rewrite.pin import (
    NOT_PINNED_FILE_ENV,
    Pin,
    PinRefused,
    pin,
    pin_rewrites,
    say_not_pinned,
)
from postrender.rewrite.rules import MirrorRule
from postrender.rewrite.stream import Rewrite

A, B, C = ("sha256:" + letter * 64 for letter in "abc")
RULE = MirrorRule("dp.apps.rancher.io", "harbor.example.com:8443", "appco")
ETCD = "harbor.example.com:8443/appco/containers/etcd:3.5"
PINS = {ETCD: Pin(B, frozenset({A, B}))}


def test_every_reference_by_tag_gets_its_digest_and_no_other_byte_changes():
    text = (f"image: {ETCD}\n"
            f"args: ['--image={ETCD}', \"x {ETCD}, y\"]\n"
            f"script: |\n  crane pull {ETCD} /tmp\n"
            "other: docker.io/library/etcd:3.5\n")
    pinned = pin(text, RULE, PINS, where="lock.yaml")
    assert pinned.text == text.replace(ETCD, f"{ETCD}@{B}")
    assert pinned.not_pinned == []


def test_a_reference_with_a_known_digest_and_charts_are_left_alone():
    text = (f"image: {ETCD}@{A}\nchart: oci://harbor.example.com:8443/appco/charts/etcd:1.0\n"
            "repo: oci://harbor.example.com:8443/appco/charts\n")
    assert pin(text, RULE, PINS, where="lock.yaml").text == text


CHART_URL = "(an oci:// chart URL: its reader asks for the chart by tag)"


def test_chart_urls_in_the_stream_are_listed_not_pinned_unless_they_carry_a_digest():
    # a Flux OCIRepository and HelmRepository, an Argo CD Application source
    text = ("kind: OCIRepository\nspec:\n  url: oci://harbor.example.com:8443/appco/charts/etcd\n"
            "  ref: {tag: 1.0.0}\n---\nkind: HelmRepository\nspec:\n  type: oci\n"
            "  url: 'oci://harbor.example.com:8443/appco/charts'\n---\nkind: Application\n"
            "spec:\n  source:\n    repoURL: oci://harbor.example.com:8443/appco/charts/etcd\n"
            "    targetRevision: 1.0.0\n"
            f"    other: oci://harbor.example.com:8443/appco/charts/etcd@{A}\n"
            "    elsewhere: oci://registry.example.com/appco/charts/etcd\n")
    pinned = pin(text, RULE, PINS, where="lock.yaml")
    assert pinned.text == text
    assert pinned.not_pinned == [
        f"line 3: oci://harbor.example.com:8443/appco/charts/etcd {CHART_URL}",
        f"line 9: oci://harbor.example.com:8443/appco/charts {CHART_URL}",
        f"line 14: oci://harbor.example.com:8443/appco/charts/etcd {CHART_URL}",
    ]


def test_pinned_rewrites_name_the_chart_urls_and_registries_they_leave_by_tag():
    def rewrite(path: str, after: str) -> Rewrite:
        return Rewrite(1, "v1", "App", "a", None, path, "/" + path.replace(".", "/"), "", after)

    script = f"pull {ETCD}\nhelm pull oci://harbor.example.com:8443/appco/charts/x\n"
    rewrites = [
        rewrite("spec.url", "oci://harbor.example.com:8443/appco/charts/etcd"),
        rewrite("spec.registry", "harbor.example.com:8443/appco"),  # Helm 3's global value
        rewrite("spec.script", script),
    ]
    pinned, left = pin_rewrites(rewrites, RULE, PINS, where="lock.yaml")
    assert [r.after for r in pinned] == [
        rewrites[0].after, rewrites[1].after, script.replace(ETCD, f"{ETCD}@{B}"),
    ]
    assert left == [
        f"App/a spec.url: oci://harbor.example.com:8443/appco/charts/etcd {CHART_URL}",
        "App/a spec.registry: harbor.example.com:8443/appco (a registry apart from its "
        "repository: no place for a digest)",
        "App/a spec.script line 2: oci://harbor.example.com:8443/appco/charts/x "
        f"{CHART_URL}",
    ]


def test_a_reference_the_lock_lacks_is_refused_naming_it():
    with pytest.raises(PinRefused, match=r"^harbor.example.com:8443/appco/containers/redis:7 is "
                                         r"not in the lock file lock.yaml; re-run `helm "
                                         r"harbor-mirror verify --write-lock`"):
        pin("image: harbor.example.com:8443/appco/containers/redis:7\n", RULE, PINS,
            where="lock.yaml")


def test_a_reference_with_another_digest_is_refused():
    with pytest.raises(PinRefused, match=f"pins it to {B}, not this digest"):
        pin(f"image: {ETCD}@{C}\n", RULE, PINS, where="lock.yaml")


def test_a_bare_registry_host_cannot_carry_a_digest_and_is_listed():
    text = ("image:\n  registry: harbor.example.com:8443\n"
            "  repository: appco/containers/etcd\n  tag: '3.5'\n"
            "url: https://harbor.example.com:8443\n")
    pinned = pin(text, RULE, PINS, where="lock.yaml")
    assert pinned.text == text
    assert pinned.not_pinned == [
        "line 2: registry: harbor.example.com:8443 (a registry apart from its repository: no "
        "place for a digest)"
    ]


def test_a_registry_with_the_project_as_helm_3s_global_value_gives_it_is_listed_too():
    text = ("image:\n  registry: harbor.example.com:8443/appco\n"
            "  repository: containers/etcd\n  tag: '3.5'\n")
    pinned = pin(text, RULE, PINS, where="lock.yaml")
    assert pinned.text == text
    assert [place.partition(" (")[0] for place in pinned.not_pinned] == [
        "line 2: registry: harbor.example.com:8443/appco"
    ]


def test_a_chart_url_left_by_tag_is_named_without_the_rest_of_its_line():
    """The line may hold a secret (an Argo CD repository Secret in flow style, a script's
    --password): stderr, CI logs and the wrappers' relay file get the URL alone."""
    text = ("kind: Secret\nstringData: {type: helm, url: 'oci://harbor.example.com:8443/appco/"
            "charts', password: s3cret-pw}\n")
    assert pin(text, RULE, PINS, where="lock.yaml").not_pinned == [
        f"line 2: oci://harbor.example.com:8443/appco/charts {CHART_URL}"
    ]
    script = "helm pull oci://harbor.example.com:8443/appco/charts/x --password s3cret-pw"
    rewrite = Rewrite(1, "v1", "Job", "j", None, "spec.args", "/spec/args", "", script)
    _, left = pin_rewrites([rewrite], RULE, PINS, where="lock.yaml")
    assert left == [f"Job/j spec.args: oci://harbor.example.com:8443/appco/charts/x {CHART_URL}"]


def test_the_relay_file_is_only_ever_one_in_a_private_directory_the_wrappers_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """HARBOR_MIRROR_NOT_PINNED_FILE left set by a user must not make the post-renderer append
    to some other file (a kubeconfig, a shell profile), nor through a symlink planted in a
    directory named like the wrappers' one."""
    places = ["line 2: registry: harbor.example.com:8443 (why)"]
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\n")
    lookalike = tmp_path / "harbor-mirror-not-pinned-x"
    lookalike.mkdir(mode=0o700)
    (lookalike / "not-pinned").symlink_to(kubeconfig)
    shared = tmp_path / "harbor-mirror-not-pinned-shared"
    shared.mkdir()
    shared.chmod(0o755)
    for path in (kubeconfig, lookalike / "not-pinned", shared / "not-pinned"):
        say_not_pinned(places, strict=False, environ={NOT_PINNED_FILE_ENV: str(path)})
    assert kubeconfig.read_text() == "apiVersion: v1\n"
    assert not (shared / "not-pinned").exists()

    private = Path(tempfile.mkdtemp(prefix="harbor-mirror-not-pinned-", dir=tmp_path))
    say_not_pinned(places, strict=False, environ={NOT_PINNED_FILE_ENV: str(private / "not-pinned")})
    assert (private / "not-pinned").read_text() == f"harbor-mirror: not pinned: {places[0]}\n"
    assert capsys.readouterr().err.count("not pinned") == 4  # stderr has them every time
