"""The robot's Secret file read back: anything but what setup writes is one line naming it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from postrender.bootstrap.robot import secret_file_name
from postrender.errors import ConfigError
from postrender.secretfile import read_credentials

DEEP = "[" * 200_000  # deeper than Python's recursion limit: json.loads raises RecursionError


@pytest.mark.parametrize(("text", "problem"), [
    (DEEP, "not the JSON Secret manifest setup writes"),
    (json.dumps({"data": {".dockerconfigjson": base64.b64encode(DEEP.encode()).decode()}}),
     "no .dockerconfigjson with auths in it"),
])
def test_a_secret_file_nested_too_deep_is_one_line(tmp_path: Path, text: str,
                                                    problem: str) -> None:
    path = tmp_path / "secret.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        read_credentials(path, "harbor.example.com")
    assert str(raised.value) == f"--secret-file {path}: {problem}"


def test_setup_takes_a_deep_nested_earlier_secret_file_as_none(tmp_path: Path) -> None:
    """setup reads an earlier Secret file only to reuse it: one it cannot read is not there."""
    path = tmp_path / "secret.json"
    path.write_text(DEEP)
    assert secret_file_name(path) is None
