"""setup remembers the CA and robot Secret file paths; every later command finds them there."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace
from pathlib import Path

from postrender import settings
from postrender.bootstrap.configfile import ensure_config
from postrender.bootstrap.plan import Plan, RobotPlan
from postrender.endpoint import Endpoint


def _plan(tmp_path: Path, **changes: object) -> Plan:
    plan = Plan(
        harbor_url="https://core.harbor.domain",
        config_path=tmp_path / "config" / "harbor-mirror" / "config.yaml",
    )
    return replace(plan, **changes)  # type: ignore[arg-type]


def _write(plan: Plan) -> str:
    out = io.StringIO()
    ensure_config(plan, dry_run=False, out=out)
    return out.getvalue()


def test_setup_records_absolute_paths_and_a_rerun_without_them_keeps_them(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    robot = RobotPlan("k8s-pull", Path("pull-secret.json"), "application-collection")
    plan = _plan(tmp_path, ca_file=Path("harbor-ca.pem"), robot=robot)
    _write(plan)
    recorded = settings.read_config_file(str(plan.config_path))
    assert recorded["caFile"] == str(tmp_path / "harbor-ca.pem")
    assert recorded["secretFile"] == str(tmp_path / "pull-secret.json")

    assert "unchanged" in _write(_plan(tmp_path))  # no --ca-file, no --robot this time
    assert settings.read_config_file(str(plan.config_path)) == recorded


def test_settings_take_the_remembered_paths_unless_told_otherwise(tmp_path: Path) -> None:
    config, secret = tmp_path / "config.yaml", tmp_path / "s.json"
    config.write_text(f'harborHost: "h.test"\ncaFile: "/ca.pem"\nsecretFile: "{secret}"\n')
    environ = {"HARBOR_MIRROR_CONFIG": str(config)}

    remembered = settings.resolve([], environ)
    from_env = settings.resolve([], {**environ, "HARBOR_MIRROR_SECRET_FILE": "/env.json"})
    from_option = settings.resolve(["--ca-file=/opt.pem"], environ)

    assert (remembered.ca_file, remembered.secret_file) == ("/ca.pem", str(secret))
    assert from_env.secret_file == "/env.json"
    assert from_option.ca_file == "/opt.pem"
    # The registry check (verify, --verify) trusts and signs in with exactly those files.
    auth = base64.b64encode(b"robot$p+ci:pw-1234").decode()
    dockerconfig = json.dumps({"auths": {"h.test": {"auth": auth}}}).encode()
    secret.write_text(json.dumps({"data": {".dockerconfigjson": base64.b64encode(
        dockerconfig).decode()}}))  # fmt: skip
    found = Endpoint.from_settings(remembered, {"PATH": "/bin"})
    assert (found.ca_file, found.credentials) == ("/ca.pem", ("robot$p+ci", "pw-1234"))
