"""Replication planned from the chart, end to end: `setup --mode replication --chart …
--replicate` against the HTTPS emulator (whose replication really copies, with Harbor's filter
semantics) in front of a real `docker-registry` upstream that holds more repositories, tags,
chart versions and signatures than the release needs. Harbor must end up with exactly the
chart version, the tags the release pulls and their signatures; then the release renders with
the upstream stopped.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from postrender.bootstrap.replication_plan import signature_tag
from tests.harbor_emulator import ADMIN_PASSWORD, HarborEmulator
from tests.support.fixtures_airgap import NO_ROUTE, REPLICATION_SECONDS, UPSTREAM_HOST
from tests.support.fixtures_helm import isolated_helm_env
from tests.support.fixtures_plugin import Plugin
from tests.support.fixtures_registry import (
    IMAGES,
    REPO_ROOT,
    Upstream,
    add_proxy_project,
    push_images,
    running_registry,
)
from tests.support.oci_content import OCI_CONFIG, OCI_MANIFEST, Pusher, digest_of
from tests.support.upstream_registry import UpstreamRegistry

ETCD_LIKE = f"oci://{UPSTREAM_HOST}/charts/etcd-like"
OTHER = f"oci://{UPSTREAM_HOST}/charts/kubectl-job"
DEST = "appco-mirror"
# What the upstream holds beyond the etcd-like release: another tag in a repository the
# release uses, a repository it does not use, and a tag only the other chart uses.
EXTRA_IMAGES: dict[str, list[str]] = {
    "containers/etcd:3.5.16-1.1": ["linux/amd64", "linux/arm64"],
    "containers/redis:7.4": ["linux/amd64"],
    "containers/kubectl:1.32.0": ["linux/amd64"],
}
COSIGN_LAYER = "application/vnd.dev.cosign.simplesigning.v1+json"


@dataclass
class Signed:
    """The upstream, and the digests it holds a cosign signature for."""

    upstream: Upstream
    signed: dict[str, str]  # "repository:tag" → the digest whose .sig tag was pushed

    def everything(self) -> int:
        """What `**` would copy: every tag of every repository in the upstream's catalog."""
        with self.upstream.registry.client() as client:
            names = client.get("/v2/_catalog").json()["repositories"]
            return sum(len(client.get(f"/v2/{n}/tags/list").json()["tags"]) for n in names)


def _push_signature(pusher: Pusher, repository: str, digest: str, suffix: str = "sig") -> None:
    """A `.sig` (or `.att`) shaped as cosign writes it: a payload naming the digest."""
    payload = json.dumps({"critical": {"image": {"docker-manifest-digest": digest}}}).encode()
    config = b"{}"
    for blob in (config, payload):
        pusher.blob(repository, blob)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": COSIGN_LAYER, "digest": digest_of(payload),
                    "size": len(payload)}],
    }).encode()  # fmt: skip
    pusher.manifest(repository, signature_tag(digest, suffix), OCI_MANIFEST, manifest)


def _push_charts(helm4: Path, registry: UpstreamRegistry, work: Path) -> None:
    """etcd-like 0.1.0, and a second chart in two versions whose job pulls kubectl 1.32.0."""
    other = work / "kubectl-job"
    (other / "templates").mkdir(parents=True)
    (other / "Chart.yaml").write_text("apiVersion: v2\nname: kubectl-job\nversion: 0.0.0\n")
    (other / "templates" / "job.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: kubectl\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: kubectl\n"
        f"          image: {UPSTREAM_HOST}/containers/kubectl:1.32.0\n"
    )
    helm = isolated_helm_env(helm4, work / "helm")
    ca = str(registry.ca_file)
    login = ("registry", "login", registry.host, "--username", registry.username,
             "--password-stdin", "--ca-file", ca)  # fmt: skip
    assert helm.run(*login, input=registry.password).returncode == 0
    packages = [(REPO_ROOT / "charts-fixtures" / "etcd-like", "0.1.0"), (other, "0.2.0"),
                (other, "0.3.0")]  # fmt: skip
    for source, version in packages:
        done = helm.run("package", source, "--version", version, "-d", work)
        assert done.returncode == 0, done.stderr
        archive = work / f"{source.name}-{version}.tgz"
        done = helm.run("push", archive, f"oci://{registry.host}/charts", "--ca-file", ca)
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def signed(helm4: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    """An upstream of this module's own: others share the session's, which holds no
    signatures and only what the etcd-like release needs."""
    root = tmp_path_factory.mktemp("planned-upstream")
    with running_registry(root) as registry:
        images = push_images(registry, {**IMAGES, **EXTRA_IMAGES})
        signed = {name: images[name].digest
                  for name in ("containers/etcd:3.5.17-1.2", "containers/etcd:3.5.16-1.1")}
        with registry.client() as client:
            pusher = Pusher(client)
            for name, digest in signed.items():
                _push_signature(pusher, name.partition(":")[0], digest)
            _push_signature(pusher, "containers/etcd", signed["containers/etcd:3.5.17-1.2"], "att")
        _push_charts(helm4, registry, root)
        yield Signed(Upstream(registry, images), signed)


@dataclass
class Setting:
    plugin: Plugin
    harbor: HarborEmulator
    signed: Signed
    root: Path

    @property
    def registry(self) -> UpstreamRegistry:
        return self.signed.upstream.registry

    def values(self) -> list[str]:
        busybox = self.signed.upstream.images["containers/bci-busybox:15.6"].digest
        return ["--set", f"images.volumePermissions.digest={busybox}",
                "--set", f"logShipper.image={UPSTREAM_HOST}/containers/bci-busybox:15.6"]

    def setup(self, chart: str, version: str, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.harbor.ca_file is not None
        return self.plugin.env.run(
            "harbor-mirror", "setup", "--harbor-url", self.harbor.url,
            "--ca-file", self.harbor.ca_file, "--upstream-url", self.registry.url,
            "--upstream-host", UPSTREAM_HOST, "--upstream-username", self.registry.username,
            "--robot", "k8s-pull", "--secret-out", self.root / "pull-secret.json",
            "--mode", "replication", "--dest-namespace", DEST, "--poll-interval", "0.1",
            "--chart", chart, "--version", version, *args,
            extra_env={**NO_ROUTE, "HARBOR_MIRROR_HARBOR_PASSWORD": ADMIN_PASSWORD,
                       "HARBOR_MIRROR_UPSTREAM_TOKEN": self.registry.password},
        )  # fmt: skip

    def held(self) -> dict[str, set[str]]:
        tags = self.harbor.state.store.content(DEST).tags
        return {repository: set(listed) for repository, listed in tags.items()}

    def policies(self) -> dict[str, list[dict[str, object]]]:
        return {p.name: p.filters for p in self.harbor.state.policies.values()}

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return self.plugin.env.run(*args, extra_env=NO_ROUTE)


@pytest.fixture
def setting(
    plugin: Plugin, harbor_tls: HarborEmulator, signed: Signed, tmp_path: Path
) -> Iterator[Setting]:
    add_proxy_project(harbor_tls, signed.upstream, "application-collection")
    harbor_tls.state.execution_seconds = REPLICATION_SECONDS  # what runs is checked, not how
    config = Path(plugin.env.env["HELM_CONFIG_HOME"]) / "harbor-mirror" / "config.yaml"
    try:
        yield Setting(plugin, harbor_tls, signed, tmp_path)
    finally:
        config.unlink(missing_ok=True)


def _copied(output: str) -> tuple[int, int]:
    """(artifacts this run copied, signatures Harbor holds) from setup's last report."""
    found = re.search(r"copied (\d+) of \d+ planned artifacts \(.*; (\d+) signature tags in Harbor",
                      output)
    assert found, output
    return int(found.group(1)), int(found.group(2))


def test_the_chart_plans_exactly_what_its_release_pulls(setting: Setting) -> None:
    etcd = setting.signed.signed["containers/etcd:3.5.17-1.2"]

    done = setting.setup(ETCD_LIKE, "0.1.0", *setting.values(), "--replicate")

    assert done.returncode == 0, done.stderr + done.stdout
    assert "warning:" not in done.stdout  # no catalog listed, no signature left out
    assert setting.held() == {
        "charts/etcd-like": {"0.1.0"},
        "containers/etcd": {"3.5.17-1.2", signature_tag(etcd)},
        "containers/bci-busybox": {"15.6"},
        "containers/kubectl": {"1.33.4"},
    }
    copied, signatures = _copied(done.stdout)
    everything = setting.signed.everything()
    assert (copied, signatures) == (4, 1)
    assert copied + signatures < everything == 12, "what `**` would have copied"
    assert re.search(r"\[signatures\] containers/kubectl: 0 of 4 in Harbor", done.stdout)
    assert "[check] 5 references: resolve through Harbor" in done.stdout
    assert setting.policies()["application-collection:etcd-like:containers/etcd"] == [
        {"type": "name", "value": "containers/etcd"},
        {"type": "tag", "value": "{3.5.17-1.2," + ",".join(
            signature_tag(d) for d in _index_and_platforms(setting, etcd)) + "}",
         "decoration": "matches"},
    ]  # fmt: skip

    # The release renders from Harbor alone.
    with setting.registry.stopped():
        template = setting.run("harbor-mirror", "template", "demo", ETCD_LIKE, "--version",
                               "0.1.0", *setting.values())  # fmt: skip
        install = setting.run("harbor-mirror", "install", "demo", ETCD_LIKE, "--version",
                              "0.1.0", "--dry-run=client", *setting.values())  # fmt: skip
    assert template.returncode == 0, template.stderr
    assert f"{setting.harbor.url.removeprefix('https://')}/{DEST}/containers/etcd" in (
        template.stdout
    )
    if setting.plugin.major == 4:  # Helm 3's install --dry-run needs a cluster
        assert install.returncode == 0, install.stderr

    # Again with the same chart and values: nothing to write, nothing to copy.
    writes = len(setting.harbor.writes)
    again = setting.setup(ETCD_LIKE, "0.1.0", *setting.values(), "--replicate")
    assert again.returncode == 0, again.stderr + again.stdout
    assert len(setting.harbor.writes) == writes
    assert "[replicate] execution" not in again.stdout
    assert _copied(again.stdout) == (0, 1)

    # A dry run with other values prints the plan and changes nothing.
    plan = setting.setup(ETCD_LIKE, "0.1.0", *setting.values(), "--replicate", "--dry-run",
                         "--set", "images.etcd.tag=3.5.16-1.1")  # fmt: skip
    assert plan.returncode == 0, plan.stderr + plan.stdout
    assert len(setting.harbor.writes) == writes
    assert "[plan] containers/etcd: 3.5.16-1.1 to copy" in plan.stdout
    assert "[plan] upstream requests: 1 tag lists and 1 manifests" in plan.stdout
    assert "[replicate] charts/etcd-like:0.1.0: would run 1 of 4 rules" in plan.stdout
    assert "[policy] application-collection:etcd-like:containers/etcd: would update" in (
        plan.stdout
    )

    # Attestations when asked for: the .att the upstream holds for a planned digest.
    attested = setting.setup(ETCD_LIKE, "0.1.0", *setting.values(), "--replicate",
                             "--attestations")  # fmt: skip
    assert attested.returncode == 0, attested.stderr + attested.stdout
    assert setting.held()["containers/etcd"] == {
        "3.5.17-1.2", signature_tag(etcd), signature_tag(etcd, "att")
    }

    # Another chart adds its own tags without narrowing the first chart's rules.
    rules = setting.policies()
    other = setting.setup(OTHER, "0.2.0", "--replicate")
    assert other.returncode == 0, other.stderr + other.stdout
    held = setting.held()
    assert held["containers/kubectl"] == {"1.33.4", "1.32.0"}
    assert held["charts/kubectl-job"] == {"0.2.0"}
    assert "containers/redis" not in held
    assert {name: rules[name] for name in rules} == {
        name: filters for name, filters in setting.policies().items() if name in rules
    }


def _index_and_platforms(setting: Setting, digest: str) -> list[str]:
    with setting.registry.client() as client:
        index = client.get(f"/v2/containers/etcd/manifests/{digest}",
                           headers={"Accept": "application/vnd.oci.image.index.v1+json"}).json()
    return [digest, *(m["digest"] for m in index["manifests"])]


def test_a_planned_tag_the_upstream_lacks_fails_the_run_naming_the_rule(setting: Setting) -> None:
    done = setting.setup(ETCD_LIKE, "0.1.0", *setting.values(), "--replicate", "--set",
                         f"logShipper.image={UPSTREAM_HOST}/containers/etcd:9.9.9")  # fmt: skip

    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if not line.startswith("Error: plugin")]
    assert errors == [
        "harbor-mirror: error: 1 planned artifacts are not in Harbor after the run; first: "
        "containers/etcd:9.9.9: rule 'application-collection:etcd-like:containers/etcd' "
        "(name=containers/etcd, tag={3.5.17-1.2,9.9.9}) ran without copying it, so the "
        "upstream lists no such tag (check the tags in the values)"
    ]


def test_a_dry_run_before_the_chart_is_in_harbor_names_the_first_step(setting: Setting) -> None:
    writes = len(setting.harbor.writes)  # the endpoint the upstream's CA needs
    done = setting.setup(ETCD_LIKE, "0.1.0", *setting.values(), "--replicate", "--dry-run")

    assert done.returncode == 0, done.stderr + done.stdout
    assert "[chart] charts/etcd-like:0.1.0: not in Harbor yet (the first step copies " \
        "charts/etcd-like:0.1.0, 1 artifact; upstream requests: 1 tag lists and 1 manifests" \
        in done.stdout
    assert "this workstation never reads the upstream" in done.stdout
    assert len(setting.harbor.writes) == writes
    assert setting.held() == {}


def test_a_chart_version_the_upstream_lacks_names_the_rules_filters(setting: Setting) -> None:
    done = setting.setup(ETCD_LIKE, "9.9.9", *setting.values())

    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if not line.startswith("Error: plugin")]
    assert len(errors) == 1
    assert "'application-collection:etcd-like:charts/etcd-like'" in errors[0]
    assert re.search(r"name[= ]'?charts/etcd-like'?.*tag[= ]'?9\.9\.9", errors[0]), errors[0]
    assert setting.held() == {}


def test_without_replicate_only_the_chart_is_copied_and_the_rules_are_written(
    setting: Setting,
) -> None:
    done = setting.setup(ETCD_LIKE, "0.1.0", *setting.values())

    assert done.returncode == 0, done.stderr + done.stdout
    assert setting.held() == {"charts/etcd-like": {"0.1.0"}}
    assert "[replicate] charts/etcd-like:0.1.0: has to run 3 of 4 rules (--replicate runs them)" \
        in done.stdout
    assert sorted(setting.policies()) == [
        f"application-collection:etcd-like:{repository}" for repository in (
            "charts/etcd-like", "containers/bci-busybox", "containers/etcd",
            "containers/kubectl",
        )
    ]  # fmt: skip
