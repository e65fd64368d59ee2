"""Running `setup` against the Harbor emulator, in-process or as the operator's command; the
setup tests in tests/commands/ share these."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from postrender.bootstrap.plan import Plan, Replication
from postrender.commands.setup import setup
from postrender.endpoint import Endpoint
from postrender.harbor import RetryPolicy, connect
from tests.harbor_emulator import ADMIN_PASSWORD, ADMIN_USERNAME, FakeUpstream, HarborEmulator

HARBOR_MIRROR = Path(sys.executable).parent / "harbor-mirror"
UPSTREAM_HOST = "dp.apps.rancher.io"  # what charts name; the fake upstream is on loopback


def host_of(url: str) -> str:
    return url.split("://", 1)[1]


def make_plan(harbor: HarborEmulator, upstream: FakeUpstream, tmp_path: Path, **changes) -> Plan:
    plan = Plan(
        harbor_url=harbor.url,
        upstream_url=upstream.url,
        upstream_host_override=UPSTREAM_HOST,
        upstream_username=upstream.username,
        upstream_token=upstream.token,
        config_path=tmp_path / "helm" / "harbor-mirror" / "config.yaml",
    )
    return replace(plan, **changes)


def run_setup(harbor: HarborEmulator, plan: Plan, *, dry_run: bool = False) -> str:
    out = io.StringIO()
    endpoint = Endpoint.at_url(harbor.url, (ADMIN_USERNAME, ADMIN_PASSWORD))
    client = connect(endpoint, retry=RetryPolicy(base_delay=0.01))
    assert setup(client, plan, dry_run=dry_run, out=out, sleep=lambda _: None) == 0
    return out.getvalue()


def lines_of(output: str, step: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"[{step}]")]


def cli_env(tmp_path: Path, upstream: FakeUpstream, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "HELM_CONFIG_HOME": str(tmp_path / "helm"),
        "HELM_CACHE_HOME": str(tmp_path / "cache"),
        "HARBOR_MIRROR_HARBOR_PASSWORD": ADMIN_PASSWORD,
        "HARBOR_MIRROR_UPSTREAM_TOKEN": upstream.token,
    }
    env.update(extra)
    return env


PLAIN_HTTP_WARNING = "cross the network unencrypted"  # what --plain-http says first


def plain_http(harbor_url: str) -> list[str]:
    """The emulator without TLS is an http:// Harbor, which setup takes only when told."""
    return ["--plain-http"] if harbor_url.startswith("http://") else []


def run_cli(
    harbor_url: str, upstream: FakeUpstream, tmp_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    command = [
        str(HARBOR_MIRROR), "setup", "--harbor-url", harbor_url, "--upstream-url", upstream.url,
        "--upstream-host", UPSTREAM_HOST, "--upstream-username", upstream.username,
        "--timeout", "5", *plain_http(harbor_url), *args,
    ]  # fmt: skip
    return subprocess.run(
        command, env=cli_env(tmp_path, upstream, **env), capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *needles: str):
    assert result.returncode == code, result.stderr
    errors = [line for line in result.stderr.strip().splitlines()
              if not line.endswith(PLAIN_HTTP_WARNING)]  # fmt: skip
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("harbor-mirror: error: "), errors[0]
    for needle in needles:
        assert needle in errors[0], errors[0]
    assert "Traceback" not in result.stderr + result.stdout


def replication_plan(
    harbor: HarborEmulator, upstream: FakeUpstream, tmp_path: Path, **rule: Any
) -> Plan:
    return make_plan(
        harbor, upstream, tmp_path, mode="replication", project="appco-mirror",
        replication=Replication("containers/{etcd,redis}", poll_interval=0.1, **rule),
    )  # fmt: skip
