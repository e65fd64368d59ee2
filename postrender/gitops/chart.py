"""Where a GitOps engine fetches the chart from: Harbor's copy of it, and how it signs in there.

The engines pull the chart themselves (Fleet's agent, Flux's source-controller), and in the
networks this is for they reach only Harbor, so the files we write must name Harbor's chart URL,
never the upstream's, together with the Secret names that hold the robot and the CA.
"""

from __future__ import annotations

from typing import NamedTuple


class HarborChart(NamedTuple):
    """An `oci://` chart the engine pulls through Harbor."""

    url: str  # oci://HARBOR_HOST/PROJECT/charts/NAME (no version)
    harbor_host: str
    pull_secret: str  # the kubernetes.io/dockerconfigjson Secret `setup --secret-out` writes
    secret_file: str | None  # where setup wrote it, to name in the instructions
    ca_file: str | None  # the CA Harbor's certificate chains to, when not a public one
    digest: str | None = None  # with --lock: the chart's locked digest, pulled instead of a tag


def commit_dependencies(chart_dir: str, why: str) -> str:
    """The line telling the user to commit a local chart's charts/, where the engine must find
    its dependencies on the upstream (`why`: what the engine does otherwise)."""
    return (f"commit {chart_dir}/charts/ as `helm harbor-mirror dependency build {chart_dir}` "
            f"filled it: {why}")
