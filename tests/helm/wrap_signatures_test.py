"""The wrappers take `--signatures`, `--attestations` and `--key FILE` out of helm's arguments
and hand them to the post-renderer's `--verify`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from postrender.errors import ConfigError
from postrender.helm import wrap


def test_our_options_are_taken_out_and_keys_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["demo", "chart", "--signatures", "--key", "a.pem", "--set", "x=y", "--key=/k/b.pem",
            "--signatures", "--attestations"]
    helm, ours = wrap.split_signatures("install", args, 4)
    assert helm == ["demo", "chart", "--set", "x=y"]
    assert ours == ["--signatures", "--attestations",
                    f"--key={tmp_path / 'a.pem'}{os.pathsep}/k/b.pem"]


def test_a_value_of_helms_own_flag_stays_helms() -> None:
    args = ["demo", "chart", "--post-renderer-args", "--signatures", "--set", "--key=x"]
    assert wrap.split_signatures("template", args, 4) == (args, [])


@pytest.mark.parametrize(("args", "problem"), [
    (["demo", "c", "--key"], "--key needs a FILE"),
    (["demo", "c", "--key", f"a{os.pathsep}b.pem"], "cannot be passed on"),
])
def test_unusable_keys_are_refused(args: list[str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        wrap.split_signatures("install", args, 4)
