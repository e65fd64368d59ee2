"""Generated inputs the corpus lacks, for bench rows of their own.

Flow-style documents (`{kind: Pod, spec: {containers: [{image: host/x:1}]}}`) once sent every
document to the pure-Python parser, because libyaml reads a colon inside a flow scalar the
YAML 1.1 way; the block-style twin holds the same values, so the two rows compare directly.
The alias bomb (nine levels of nine aliases) once never finished; anchors on image values
shared across many documents are the everyday alias-heavy case.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

DOCUMENTS = 10_000
_IMAGE = "dp.apps.rancher.io/containers/etcd:3.5.14"


def flow_documents(count: int = DOCUMENTS) -> str:
    return "".join(
        f"---\n{{apiVersion: v1, kind: Pod, metadata: {{name: pod-{n}}}, spec: {{containers: "
        f"[{{name: app, image: {_IMAGE}}}], imagePullSecrets: [{{name: application-collection}}"
        f"]}}}}\n"
        for n in range(count)
    )


def block_documents(count: int = DOCUMENTS) -> str:
    return "".join(
        f"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-{n}\nspec:\n  containers:\n"
        f"  - name: app\n    image: {_IMAGE}\n  imagePullSecrets:\n"
        f"  - name: application-collection\n"
        for n in range(count)
    )


def anchored_documents(count: int = DOCUMENTS) -> str:
    """Each document names its image once with an anchor and uses it three times."""
    return "".join(
        f"---\nkind: Pod\nmetadata:\n  name: pod-{n}\nspec:\n  containers:\n"
        f"  - image: &image {_IMAGE}\n  - image: *image\n  initContainers:\n"
        f"  - image: *image\n  - image: *image\n"
        for n in range(count)
    )


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = [f"kind: ConfigMap\ndata:\n  image: &a0 {_IMAGE}"]
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"  a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


INPUTS: dict[str, Callable[[], str]] = {
    "generated-flow-style": flow_documents,
    "generated-block-style": block_documents,
    "generated-anchored-images": anchored_documents,
    "generated-alias-bomb": alias_bomb,
}


def write_inputs(directory: Path, only: str = "") -> list[Path]:
    """Each generated input as `<name>.yaml` under `directory` (those whose name holds `only`)."""
    paths = []
    for name, make in INPUTS.items():
        if only in name:
            path = directory / f"{name}.yaml"
            path.write_text(make(), encoding="utf-8")
            paths.append(path)
    return paths
