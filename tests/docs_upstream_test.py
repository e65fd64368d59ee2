"""The user's documentation never needs the upstream from where its commands run.

In the networks this is for only Harbor reaches `dp.apps.rancher.io` (docs/product.md): a
documented command that names the upstream must go through `helm harbor-mirror`, which maps it
to Harbor, and a step that can only be done against SUSE's own hosts (a key download, a
`cosign verify` there) must say that it is done outside the air gap.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")),
        *sorted((REPO / "integrations").glob("*/README.md"))]  # fmt: skip

UPSTREAM = re.compile(r"(?<![\w.-])(?:dp\.)?apps\.rancher\.io(?![\w-])", re.IGNORECASE)
# Clients that reach a registry or URL from the machine they run on. Node runtimes (crictl,
# ctr) are left out: their pulls of the upstream go through the node mirror setup --emit wrote.
CLIENTS = {"helm", "cosign", "curl", "wget", "docker", "podman", "skopeo", "crane", "oras",
           "nerdctl", "regctl"}  # fmt: skip
# A client in backticks sent to the upstream, or a download from one of SUSE's own URLs.
SENT_UPSTREAM = re.compile(
    r"`(?:" + "|".join(sorted(CLIENTS)) + r")(?=[\s`])(?! harbor-mirror)[^`]*`"
    r"\s+(?:against|from|on|at|to)\s+the upstream\b"
    r"|\b(?:download|fetch|get)\b[^.]*?`?https?://[\w.-]*rancher\.io/\S",
    re.IGNORECASE,
)
OUTSIDE = "outside the air gap"


def _commands(text: str) -> list[str]:
    """Every command line of the shell blocks (continuations joined, prompts dropped) and every
    inline code span."""
    commands = []
    for info, block in re.findall(r"(?ms)^```(\w*)\n(.*?)^```", text):
        if info in ("", "sh", "bash", "console", "shell"):
            for line in block.replace("\\\n", " ").splitlines():
                commands.append(line.strip().removeprefix("$ "))
    commands += re.findall(r"(?<!`)`([^`\n]+)`(?!`)", text)
    return commands


def _words(command: str) -> list[str]:
    """The words of `command`, with `|`, `&&`, `;` and the like as words of their own."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:  # an inline span with one quote of a pair: prose, not a command
        return command.split()


def _reaches_upstream(command: str) -> bool:
    """Does a client in `command` (each part of a pipe or list, behind `sudo`, `env` or
    `NAME=value`) name the upstream without going through `helm harbor-mirror`?"""
    part: list[str] = []
    for word in [*_words(command), ";"]:
        if word[:1] not in ("|", "&", ";", "(", ")"):
            if part or not (word in ("sudo", "env") or re.match(r"\w+=", word)):
                part.append(word)
            continue
        if (part and part[0] in CLIENTS and part[:2] != ["helm", "harbor-mirror"]
                and UPSTREAM.search(" ".join(part))):
            return True
        part = []
    return False


def _sentences(text: str) -> list[str]:
    prose = re.sub(r"(?ms)^```.*?^```", "", text)
    return [" ".join(s.split()) for s in re.split(r"(?<=\.)\s+|\n\n|\|", prose)]


def test_documented_commands_that_name_the_upstream_go_through_harbor_mirror() -> None:
    bad = []
    for doc in DOCS:
        bad += [f"{doc.relative_to(REPO)}: {command}" for command in _commands(doc.read_text())
                if _reaches_upstream(command)]  # fmt: skip
    assert bad == []


@pytest.mark.parametrize(("command", "reaches"), [
    ("helm pull oci://dp.apps.rancher.io/charts/etcd", True),
    ("sudo helm pull oci://dp.apps.rancher.io/charts/etcd", True),
    ("HELM_DEBUG=1 helm pull oci://dp.apps.rancher.io/charts/etcd", True),
    ("kubectl create ns etcd && helm install etcd oci://dp.apps.rancher.io/charts/etcd", True),
    ("curl -fsSL https://apps.rancher.io/ap-pubkey.pem | tee key.pem", True),
    ("helm harbor-mirror install etcd oci://dp.apps.rancher.io/charts/etcd", False),
    ("kubectl create ns etcd && helm harbor-mirror install etcd oci://dp.apps.rancher.io/x", False),
    ("crictl pull dp.apps.rancher.io/containers/etcd:3", False),
    ("helm install etcd ./chart && echo dp.apps.rancher.io", False),
])  # fmt: skip
def test_the_check_finds_a_client_behind_a_prefix_or_in_a_pipe(command: str, reaches: bool) -> None:
    assert _reaches_upstream(command) is reaches


def test_steps_done_against_the_upstream_say_they_are_done_outside_the_air_gap() -> None:
    bad = [f"{doc.relative_to(REPO)}: {sentence}"
           for doc in DOCS for sentence in _sentences(doc.read_text())
           if SENT_UPSTREAM.search(sentence) and OUTSIDE not in sentence]  # fmt: skip
    assert bad == []
