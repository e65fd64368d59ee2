"""Start-up cost of the post-renderer: it runs once per `helm install`, so imports matter.

`postrender_probe` is also what tests/startup_test.py asserts on (httpx never loaded).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from bench.measure import Command, check, measure

# Runs the real entry point in-process, then records which modules it left loaded.
_PROBE = """
import json, sys
from postrender.cli import main
try:
    main(sys.argv[2:])
except SystemExit as done:
    code = done.code
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"exit": code, "modules": sorted(sys.modules)}, out)
"""

SMALL_MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: probe
spec:
  imagePullSecrets:
  - name: application-collection
  containers:
  - name: etcd
    image: dp.apps.rancher.io/containers/etcd:3.5.14-7.7
"""
HARBOR_HOST = "harbor.example.com"
POSTRENDER_ARGS = ("postrender", "--harbor-host", HARBOR_HOST, "--pull-secret", "harbor-pull")


class Probe(NamedTuple):
    exit_code: int
    stdout: str
    modules: list[str]


def isolated_env(home: Path) -> dict[str, str]:
    """No user config or Helm homes leak in: the probe sees only its options."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELM_", "HARBOR_MIRROR_"))}
    env.update(HELM_CONFIG_HOME=str(home / "config"), HELM_CACHE_HOME=str(home / "cache"))
    return env


def postrender_probe(python: str, manifest: str, home: Path, *options: str) -> Probe:
    """Post-render `manifest` through `postrender.cli.main` (with more `options`) and list the
    modules loaded after."""
    record = home / "modules.json"
    result = subprocess.run(
        [python, "-c", _PROBE, str(record), *POSTRENDER_ARGS, *options],
        input=manifest,
        capture_output=True,
        text=True,
        env=isolated_env(home),
        check=False,
        timeout=120,
    )
    loaded = json.loads(record.read_text(encoding="utf-8"))
    return Probe(int(loaded["exit"] or 0), result.stdout, loaded["modules"])


def report(runs: int, cli: str) -> None:
    """Print median process start-up for bare Python, the heavy imports and a small post-render,
    all in the environment of `cli` (the Python beside it), so the rows add up to its figure."""
    beside = Path(cli).with_name("python")
    python = str(beside) if beside.exists() else sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        manifest = home / "small.yaml"
        manifest.write_text(SMALL_MANIFEST, encoding="utf-8")
        env = isolated_env(home)
        rows = [
            ("python -c pass", Command([python, "-c", "pass"], None, env)),
            ("import ruamel.yaml.cyaml", Command([python, "-c", "import ruamel.yaml.cyaml"])),
            ("import click", Command([python, "-c", "import click"])),
            ("import httpx", Command([python, "-c", "import httpx"])),
            ("import postrender.cli", Command([python, "-c", "import postrender.cli"])),
            ("harbor-mirror postrender, 1 pod", Command([cli, *POSTRENDER_ARGS], manifest, env)),
        ]
        for _, command in rows:
            check(command)
        figures = measure([command for _, command in rows], runs)
        print(f"\nStart-up (median of {runs} process starts, interleaved; {python})")
        print(f"{'what':<36} {'ms':>8} {'cpu ms':>8} {'peak MB':>8}")
        for (label, _), row in zip(rows, figures, strict=True):
            if row.median_seconds is None or row.peak_rss_bytes is None:
                print(f"{label:<36} failed: {row.error}")
                continue
            cpu = (row.median_cpu_seconds or 0) * 1000
            ms, mb = row.median_seconds * 1000, row.peak_rss_bytes / 2**20
            print(f"{label:<36} {ms:>8.1f} {cpu:>8.1f} {mb:>8.1f}")
        probe = postrender_probe(python, SMALL_MANIFEST, home)
    heavy = [name for name in ("httpx", "click", "ruamel.yaml") if name in probe.modules]
    print(f"after a post-render (exit {probe.exit_code}): {len(probe.modules)} modules loaded;"
          f" of httpx, click, ruamel.yaml: {', '.join(heavy) or 'none'}"
          f" (target: no httpx) -> {'ok' if 'httpx' not in heavy else 'MISS'}")
