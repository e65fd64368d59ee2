"""Node-mirror snippets: they parse as what each runtime reads, point the upstream at Harbor's
project, and carry no credential unless the user asked to embed the robot's."""

from __future__ import annotations

import base64
import json
import re

import pytest
from ruamel.yaml import YAML

from postrender.bootstrap import nodemirror
from postrender.commands.setup import cli as setup_cli
from postrender.errors import ConfigError
from postrender.rewrite.rules import MirrorRule

# The standard library's TOML reader (Python 3.11+) is the reference parser here.
tomllib = pytest.importorskip("tomllib", reason="TOML parsing needs Python 3.11's tomllib")

RULE = MirrorRule("dp.apps.rancher.io", "harbor.example.com:8443", "application-collection")
ROBOT = nodemirror.Robot("robot$application-collection+nodes", "s3cr3t-robot-token")
WITH_ROBOT = nodemirror.Node(robot=ROBOT)
CA = "/etc/pki/harbor-ca.pem"
WITH_CA = nodemirror.Node(ca_file=CA)
SNIPPETS = ("rke2", "containerd", "crio")  # the formats with a header (auth is JSON)


def test_rke2_registries_yaml_mirrors_the_upstream_with_a_project_rewrite() -> None:
    config = YAML(typ="safe").load(nodemirror.rke2(RULE))
    mirror = config["mirrors"]["dp.apps.rancher.io"]
    assert mirror["endpoint"] == ["https://harbor.example.com:8443"]
    assert mirror["rewrite"] == {"^(.*)$": "application-collection/$1"}
    assert "configs" not in config


def test_rke2_embeds_the_robot_credentials_only_when_asked() -> None:
    text = nodemirror.rke2(RULE, WITH_ROBOT)
    config = YAML(typ="safe").load(text)
    assert config["configs"] == {
        "harbor.example.com:8443": {
            "auth": {"username": ROBOT.username, "password": ROBOT.secret}
        }
    }
    assert text.count(ROBOT.secret) == 1
    assert ROBOT.secret not in nodemirror.rke2(RULE)


def test_containerd_hosts_toml_puts_harbor_project_path_before_the_upstream() -> None:
    config = tomllib.loads(nodemirror.containerd(RULE))
    assert config["server"] == "https://dp.apps.rancher.io"
    assert config["host"] == {
        "https://harbor.example.com:8443/v2/application-collection": {
            "capabilities": ["pull", "resolve"],
            "override_path": True,
        }
    }


def test_crio_registries_conf_mirrors_the_upstream_prefix_to_the_project() -> None:
    config = tomllib.loads(nodemirror.crio(RULE))
    (registry,) = config["registry"]
    assert registry["prefix"] == registry["location"] == "dp.apps.rancher.io"
    assert registry["mirror"] == [{"location": "harbor.example.com:8443/application-collection"}]


@pytest.mark.parametrize("fmt", ["containerd", "crio"])
def test_formats_without_an_auth_field_refuse_to_embed_credentials(fmt: str) -> None:
    with pytest.raises(ConfigError, match=f"--emit {fmt} cannot embed credentials") as error:
        nodemirror.EMITTERS[fmt](RULE, WITH_ROBOT)
    assert ROBOT.secret not in str(error.value)


def test_crio_refusal_points_to_the_node_auth_file_not_to_pull_secrets() -> None:
    """containers/image gives a mirror on another host none of the pull Secret's credentials
    (docker/docker_image_src.go: newImageSourceAttempt); only the node auth file reaches it."""
    with pytest.raises(ConfigError) as error:
        nodemirror.crio(RULE, WITH_ROBOT)
    message = str(error.value)
    assert "no pull-Secret credentials" in message and "--emit auth FILE" in message
    assert "can use pull secrets" not in message.lower()


def test_rke2_names_harbors_ca_under_the_harbor_host() -> None:
    config = YAML(typ="safe").load(nodemirror.rke2(RULE, WITH_CA))
    assert config["configs"] == {"harbor.example.com:8443": {"tls": {"ca_file": CA}}}
    both = YAML(typ="safe").load(nodemirror.rke2(RULE, nodemirror.Node(CA, ROBOT)))
    assert both["configs"]["harbor.example.com:8443"] == {
        "auth": {"username": ROBOT.username, "password": ROBOT.secret},
        "tls": {"ca_file": CA},
    }


def test_containerd_names_harbors_ca_on_the_harbor_host_only() -> None:
    config = tomllib.loads(nodemirror.containerd(RULE, WITH_CA))
    (host,) = config["host"].values()
    assert host["ca"] == CA
    assert "ca" not in config  # the upstream fallback keeps the system's trust


@pytest.mark.parametrize("fmt", SNIPPETS)
def test_every_header_says_where_the_node_keeps_harbors_ca(fmt: str) -> None:
    header = nodemirror.EMITTERS[fmt](RULE, WITH_CA)
    expected = {
        "rke2": f"every node must have it at {CA}",
        "containerd": f"every node must have it at {CA}",
        "crio": f"copy {CA} to /etc/containers/certs.d/harbor.example.com:8443/ca.crt",
    }[fmt]
    assert expected in header
    without = nodemirror.EMITTERS[fmt](RULE, nodemirror.BARE)
    assert "a CA the node already trusts" in without
    assert "ca_file" not in without and "ca =" not in without


def test_node_auth_file_holds_the_robot_for_harbors_host_only() -> None:
    config = json.loads(nodemirror.auth(RULE, WITH_ROBOT))
    (entry,) = config["auths"].values()
    assert list(config["auths"]) == ["harbor.example.com:8443"]
    assert base64.b64decode(entry["auth"]).decode() == f"{ROBOT.username}:{ROBOT.secret}"
    with pytest.raises(ConfigError, match="--emit auth needs the robot's credentials"):
        nodemirror.auth(RULE)


@pytest.mark.parametrize("fmt", SNIPPETS)
def test_every_snippet_says_it_leaves_manifests_alone(fmt: str) -> None:
    text = nodemirror.EMITTERS[fmt](RULE, nodemirror.BARE)
    assert "pull-secret names stay unchanged" in text
    assert ROBOT.secret not in text and "password" not in text



@pytest.mark.parametrize("fmt", SNIPPETS)
def test_every_option_a_snippet_names_is_one_setup_takes(fmt: str) -> None:
    text = nodemirror.EMITTERS[fmt](RULE, nodemirror.BARE)
    named = set(re.findall(r"--[a-z][a-z-]*", text))
    taken = {flag for param in setup_cli.params for flag in param.opts}
    assert "--emit" in named
    assert named <= taken, named - taken
