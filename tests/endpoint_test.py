"""The endpoint's credentials: the robot's Secret file, however it is named, read or refused."""

from __future__ import annotations

import base64
import json

import pytest

from postrender.endpoint import Endpoint
from postrender.errors import ConfigError
from postrender.settings import Settings, resolve


def _secret_file(tmp_path, entry):
    config = json.dumps({"auths": {"h.example": entry}}).encode()
    path = tmp_path / "pull-secret.json"
    path.write_text(json.dumps({"data": {".dockerconfigjson": base64.b64encode(config).decode()}}))
    return path


@pytest.mark.parametrize("auth", ["not base64!", "//79/w==", 42])
def test_secret_file_with_a_bad_auth_field_is_a_config_error(tmp_path, auth):
    path = _secret_file(tmp_path, {"auth": auth})
    with pytest.raises(ConfigError, match="has no username and password"):
        Endpoint.from_settings(Settings("h.example", secret_file=str(path)), {})


def test_secret_file_comes_from_the_environment_too(tmp_path):
    path = _secret_file(tmp_path, {"username": "robot$appco+pull", "password": "s3cret"})
    environ = {"HARBOR_MIRROR_SECRET_FILE": str(path), "HELM_CONFIG_HOME": str(tmp_path)}
    found = Endpoint.from_settings(resolve(["--harbor-host=h.example"], environ), environ)
    assert found.credentials == ("robot$appco+pull", "s3cret")
    assert "s3cret" not in repr(found)
