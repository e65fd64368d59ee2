"""The Argo CD Config Management Plugin in integrations/argocd, run the way the sidecar runs it.

`init` and `generate` come from plugin.yaml itself and run in a copy of a fixture chart with the
environment Argo CD sets (ARGOCD_APP_*, ARGOCD_ENV_*, KUBE_VERSION, KUBE_API_VERSIONS), the real
Helm 4 and the real `harbor-mirror` on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from postrender.bootstrap.robot import secret_manifest
from tests.harbor_emulator import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.support.fixtures_registry import Mirror
from tests.support.kustomize_emulation import comparable, load_as_kubernetes, read_yaml
from tests.support.rewrite_oracle import (
    FIXTURE_CHARTS,
    HARBOR_HOST,
    HARBOR_SECRET,
    REPO_ROOT,
    TARGET,
    postrender_ok,
    upstream_mentions,
)

ARGOCD = REPO_ROOT / "integrations" / "argocd"
PLUGIN = ARGOCD / "plugin.yaml"
CHART = FIXTURE_CHARTS / "etcd-like"

# Argo CD's documented ConfigManagementPlugin fields (operator manual, config-management-plugins).
SPEC_FIELDS = {
    "version", "init", "generate", "discover", "parameters", "preserveFileMode",
    "provideGitCreds", "allowConcurrency", "lockRepo",
}
COMMAND_FIELDS = {"command", "args"}
DISCOVER_FIELDS = {"fileName", "find"}


def test_plugin_manifest_has_only_documented_fields() -> None:
    plugin = read_yaml(PLUGIN)
    assert set(plugin) == {"apiVersion", "kind", "metadata", "spec"}
    assert plugin["apiVersion"] == "argoproj.io/v1alpha1"
    assert plugin["kind"] == "ConfigManagementPlugin"
    assert plugin["metadata"]["name"] == "harbor-mirror"
    spec = plugin["spec"]
    assert set(spec) <= SPEC_FIELDS, set(spec) - SPEC_FIELDS
    for step in ("init", "generate"):
        assert set(spec[step]) <= COMMAND_FIELDS
        assert all(isinstance(part, str) for part in spec[step]["command"] + spec[step]["args"])
    assert set(spec.get("discover", {})) <= DISCOVER_FIELDS
    # No discover rule: only applications that name the plugin use it.
    assert "discover" not in spec


def _argocd_env(
    tmp_path: Path, helm4: Path, *, sidecar_host: str | None = None, **app_env: str
) -> dict[str, str]:
    """What the sidecar's exec sees: its own env (`sidecar_host` as HARBOR_MIRROR_HARBOR_HOST),
    Argo CD's build env, the app's plugin env.

    PATH is the image's: helm, harbor-mirror, and cmp.sh as harbor-mirror-cmp (the Dockerfile
    copies it there)."""
    image_bin = tmp_path / "image-bin"
    image_bin.mkdir(exist_ok=True)
    if not (image_bin / "harbor-mirror-cmp").exists():
        (image_bin / "harbor-mirror-cmp").symlink_to(ARGOCD / "cmp.sh")
    env = {
        "PATH": os.pathsep.join(
            [str(image_bin), str(helm4.parent), str(Path(sys.executable).parent), "/usr/bin",
             "/bin"]
        ),
        "HOME": str(tmp_path / "home"),
        "HELM_CACHE_HOME": str(tmp_path / "helm" / "cache"),
        "HELM_CONFIG_HOME": str(tmp_path / "helm" / "config"),
        "HELM_DATA_HOME": str(tmp_path / "helm" / "data"),
        "ARGOCD_APP_NAME": "demo",
        "ARGOCD_APP_NAMESPACE": "demo-ns",
        "ARGOCD_APP_PROJECT_NAME": "default",
        "ARGOCD_APP_REVISION": "0123456789abcdef0123456789abcdef01234567",
        "ARGOCD_APP_REVISION_SHORT": "0123456",
        "ARGOCD_APP_SOURCE_PATH": "charts/etcd-like",
        "ARGOCD_APP_SOURCE_REPO_URL": "https://git.example.com/platform/apps.git",
        "ARGOCD_APP_SOURCE_TARGET_REVISION": "main",
        "KUBE_VERSION": "1.35.0",
        "KUBE_API_VERSIONS": "v1,apps/v1,batch/v1,monitoring.coreos.com/v1",
    }
    if sidecar_host is not None:
        env["HARBOR_MIRROR_HARBOR_HOST"] = sidecar_host
    env.update({f"ARGOCD_ENV_{name}": value for name, value in app_env.items()})
    return env


def _run_step(step: str, app: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    spec: dict[str, Any] = read_yaml(PLUGIN)["spec"][step]
    return subprocess.run(
        [*spec["command"], *spec["args"]],
        cwd=app, env=env, capture_output=True, text=True, check=False, timeout=300,
    )


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """The application source directory the repo-server streams to the sidecar."""
    target = tmp_path / "app"
    shutil.copytree(CHART, target)
    (target / "values-prod.yaml").write_text("replicaCount: 3\n", encoding="utf-8")
    return target


def test_generate_yields_the_post_renderer_output_with_hooks(
    app: Path, helm4: Path, tmp_path: Path
) -> None:
    env = _argocd_env(
        tmp_path, helm4, sidecar_host=HARBOR_HOST,
        HARBOR_HOST=HARBOR_HOST,  # an app may repeat the sidecar's Harbor host
        PULL_SECRET=HARBOR_SECRET, VALUES_FILES="values-prod.yaml",
    )
    init = _run_step("init", app, env)
    assert init.returncode == 0, init.stderr
    generated = _run_step("generate", app, env)
    assert generated.returncode == 0, generated.stderr
    assert upstream_mentions(generated.stdout) == []

    rendered = subprocess.run(
        [str(helm4), "template", "demo", ".", "--namespace", "demo-ns", "--include-crds",
         "--kube-version", "1.35.0", "--values", "values-prod.yaml"],
        cwd=app, env=env, capture_output=True, text=True, check=True,
    ).stdout
    expected = postrender_ok(rendered, "--pull-secret", HARBOR_SECRET)
    assert comparable(generated.stdout) == comparable(expected)

    documents = [doc for doc in load_as_kubernetes(generated.stdout) if doc]
    statefulset = next(doc for doc in documents if doc["kind"] == "StatefulSet")
    assert statefulset["spec"]["replicas"] == 3  # the app's values file was used
    hook = next(
        doc for doc in documents if "helm.sh/hook" in (doc["metadata"].get("annotations") or {})
    )
    image = hook["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith(TARGET + "/")


def test_generate_uses_the_sidecar_defaults_when_the_app_sets_nothing(
    app: Path, helm4: Path, tmp_path: Path
) -> None:
    env = _argocd_env(tmp_path, helm4)
    env["HARBOR_MIRROR_HARBOR_HOST"] = "sidecar-default.example.com"
    generated = _run_step("generate", app, env)
    assert generated.returncode == 0, generated.stderr
    assert "sidecar-default.example.com/application-collection/containers/etcd" in generated.stdout


CAPABILITIES_TEMPLATE = """\
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-capabilities
  namespace: {{ .Release.Namespace }}
data:
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  image: dp.apps.rancher.io/containers/etcd:3.5
{{- end }}
"""


def test_generate_renders_with_argo_cds_build_env_and_the_apps_settings(
    app: Path, helm4: Path, tmp_path: Path
) -> None:
    """KUBE_VERSION, KUBE_API_VERSIONS and the destination namespace reach Helm; the app's
    RELEASE_NAME and project beat the defaults."""
    (app / "templates" / "capabilities.yaml").write_text(CAPABILITIES_TEMPLATE, encoding="utf-8")
    env = _argocd_env(
        tmp_path, helm4, sidecar_host="sidecar-default.example.com",
        PROJECT="app-project", RELEASE_NAME="other",
    )
    generated = _run_step("generate", app, env)
    assert generated.returncode == 0, generated.stderr
    (config,) = [
        doc for doc in load_as_kubernetes(generated.stdout)
        if doc and doc["metadata"]["name"] == "other-capabilities"
    ]
    assert config["metadata"]["namespace"] == "demo-ns"
    assert config["data"] == {
        "kubeVersion": "v1.35.0",
        "image": "sidecar-default.example.com/app-project/containers/etcd:3.5",
    }
    assert upstream_mentions(generated.stdout) == []


def test_init_fetches_dependencies_once_and_generate_renders_them(
    app: Path, helm4: Path, tmp_path: Path
) -> None:
    sub = app / "deps" / "sidecar"
    (sub / "templates").mkdir(parents=True)
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: sidecar\nversion: 0.1.0\n")
    (sub / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-dependency}\n"
        "data: {image: dp.apps.rancher.io/containers/sidecar:1}\n"
    )
    with (app / "Chart.yaml").open("a", encoding="utf-8") as chart:
        chart.write("dependencies:\n- name: sidecar\n  version: 0.1.0\n"
                    "  repository: file://deps/sidecar\n")
    env = _argocd_env(tmp_path, helm4, sidecar_host=HARBOR_HOST)
    init = _run_step("init", app, env)
    assert init.returncode == 0, init.stderr
    assert [path.name for path in (app / "charts").iterdir()] == ["sidecar-0.1.0.tgz"]
    generated = _run_step("generate", app, env)
    assert generated.returncode == 0, generated.stderr
    assert f"image: {TARGET}/containers/sidecar:1" in generated.stdout
    # Vendored: a second init leaves charts/ alone instead of fetching again.
    (app / "charts" / "sidecar-0.1.0.tgz").write_bytes(b"vendored")
    assert _run_step("init", app, env).returncode == 0
    assert (app / "charts" / "sidecar-0.1.0.tgz").read_bytes() == b"vendored"


def test_generate_without_a_harbor_host_fails_with_harbor_mirrors_message(
    app: Path, helm4: Path, tmp_path: Path
) -> None:
    generated = _run_step("generate", app, _argocd_env(tmp_path, helm4))
    assert generated.returncode != 0
    assert generated.stdout == ""
    assert "no Harbor host configured" in generated.stderr
    assert "Traceback" not in generated.stderr


def test_generate_fails_when_helm_fails_instead_of_syncing_nothing(
    app: Path, helm4: Path, tmp_path: Path
) -> None:
    (app / "templates" / "broken.yaml").write_text("{{ .Values.nope.deeper }}\n", encoding="utf-8")
    generated = _run_step("generate", app, _argocd_env(tmp_path, helm4, sidecar_host=HARBOR_HOST))
    assert generated.returncode != 0
    assert generated.stdout == ""
    assert "broken.yaml" in generated.stderr  # helm's own message reaches the Argo CD UI


@pytest.mark.parametrize("values_file", ["/etc/passwd", "../secrets.yaml", "missing.yaml"])
def test_generate_refuses_values_files_outside_the_application(
    values_file: str, app: Path, helm4: Path, tmp_path: Path
) -> None:
    env = _argocd_env(tmp_path, helm4, sidecar_host=HARBOR_HOST, VALUES_FILES=values_file)
    generated = _run_step("generate", app, env)
    assert generated.returncode == 2
    assert generated.stderr.startswith("harbor-mirror CMP: values file")
    assert generated.stderr.count("\n") == 1


LEAK_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: leak}
data: {leaked: {{ .Values.leak | default "" | quote }}}
"""


def _robot_secret_file(tmp_path: Path, host: str) -> Path:
    """The robot's Secret file as repo-server-patch.yaml mounts it into the sidecar."""
    secret_file = tmp_path / "robot" / "pull-secret.json"
    secret_file.parent.mkdir()
    secret_file.write_text(
        secret_manifest("application-collection", host, "robot$sidecar", "robot-password-1")
    )
    return secret_file


@pytest.mark.parametrize("where", ["RELEASE_NAME", "ARGOCD_APP_NAME"])
def test_generate_refuses_a_release_name_that_helm_would_read_as_a_flag(
    where: str, app: Path, helm4: Path, tmp_path: Path
) -> None:
    """The release name is the one positional an Application chooses; `--set-file=…` there made
    helm read the robot's Secret into the manifests the Argo CD UI shows."""
    (app / "templates" / "leak.yaml").write_text(LEAK_TEMPLATE, encoding="utf-8")
    secret_file = _robot_secret_file(tmp_path, HARBOR_HOST)
    hostile = f"--set-file=leak={secret_file}"
    app_env = {"RELEASE_NAME": hostile} if where == "RELEASE_NAME" else {}
    env = _argocd_env(tmp_path, helm4, sidecar_host=HARBOR_HOST, **app_env)
    if where == "ARGOCD_APP_NAME":
        env["ARGOCD_APP_NAME"] = hostile
    env["HARBOR_MIRROR_SECRET_FILE"] = str(secret_file)

    generated = _run_step("generate", app, env)

    assert generated.returncode == 2
    assert generated.stdout == ""
    assert generated.stderr == (
        f"harbor-mirror CMP: RELEASE_NAME '{hostile}' is not a Helm release name "
        "(lower-case letters, digits, '-', '.'; at most 53)\n"
    )


def test_generate_passes_every_application_value_as_one_flag_value(
    app: Path, helm4: Path, tmp_path: Path
) -> None:
    """Values that start with `-` stay the value of the flag they belong to."""
    (app / "templates" / "leak.yaml").write_text(LEAK_TEMPLATE, encoding="utf-8")
    (app / "-f.yaml").write_text("leak: from-the-apps-values-file\n", encoding="utf-8")
    env = _argocd_env(tmp_path, helm4, sidecar_host=HARBOR_HOST, VALUES_FILES="-f.yaml")
    generated = _run_step("generate", app, env)
    assert generated.returncode == 0, generated.stderr
    assert 'leaked: "from-the-apps-values-file"' in generated.stdout


@pytest.mark.parametrize("link", ["templates/leak.yaml", "values-leak.yaml"])
def test_a_symlink_out_of_the_application_is_refused(
    link: str, app: Path, helm4: Path, tmp_path: Path
) -> None:
    """Helm reads a chart's files and values files through symlinks: one to the sidecar's
    robot Secret would render it into the manifests."""
    secret_file = _robot_secret_file(tmp_path, HARBOR_HOST)
    (app / link).symlink_to(secret_file)
    env = _argocd_env(tmp_path, helm4, sidecar_host=HARBOR_HOST, VALUES_FILES="values-prod.yaml")
    env["HARBOR_MIRROR_SECRET_FILE"] = str(secret_file)
    if link.startswith("values"):
        env["ARGOCD_ENV_VALUES_FILES"] = link
    for step in ("init", "generate"):
        ran = _run_step(step, app, env)
        assert ran.returncode == 2, (step, ran.stdout)
        assert ran.stdout == ""
        assert ran.stderr == (
            f"harbor-mirror CMP: '{link}' is a symlink that leads out of the application\n"
        )


def test_harbor_host_comes_from_the_sidecar_never_from_the_application(
    app: Path, helm4: Path, tmp_path: Path
) -> None:
    """The sidecar signs in to its Harbor host with the robot's credentials; an Application
    naming another host would choose where those go (and where its pods pull from)."""
    secret_file = _robot_secret_file(tmp_path, "elsewhere.example.com")
    env = _argocd_env(
        tmp_path, helm4, sidecar_host=HARBOR_HOST, HARBOR_HOST="elsewhere.example.com"
    )
    env["HARBOR_MIRROR_SECRET_FILE"] = str(secret_file)
    for step in ("init", "generate"):
        ran = _run_step(step, app, env)
        assert ran.returncode == 2, (step, ran.stdout)
        assert ran.stdout == ""
        assert ran.stderr == (
            "harbor-mirror CMP: HARBOR_HOST is the sidecar's (HARBOR_MIRROR_HARBOR_HOST), "
            "an Application cannot change it\n"
        )


REPO_SERVER_STUB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-repo-server
spec:
  template:
    spec:
      containers:
      - name: argocd-repo-server
        image: quay.io/argoproj/argocd:v3.5.1
      volumes:
      - name: var-files
        emptyDir: {}
      - name: plugins
        emptyDir: {}
"""


def test_repo_server_patch_adds_the_sidecar_argo_cd_expects(
    kubectl: Path, tmp_path: Path
) -> None:
    (tmp_path / "repo-server.yaml").write_text(REPO_SERVER_STUB, encoding="utf-8")
    shutil.copy(ARGOCD / "repo-server-patch.yaml", tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [repo-server.yaml]\npatches:\n- path: repo-server-patch.yaml\n",
        encoding="utf-8",
    )
    built = subprocess.run([str(kubectl), "kustomize", str(tmp_path)], capture_output=True,
                           text=True, check=False)
    assert built.returncode == 0, built.stderr
    (deployment,) = load_as_kubernetes(built.stdout)
    pod = deployment["spec"]["template"]["spec"]
    by_name = {container["name"]: container for container in pod["containers"]}
    assert set(by_name) == {"argocd-repo-server", "harbor-mirror"}
    sidecar = by_name["harbor-mirror"]
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert sidecar["securityContext"]["runAsUser"] == 999
    mounts = {mount["mountPath"]: mount["name"] for mount in sidecar["volumeMounts"]}
    assert mounts["/var/run/argocd"] == "var-files"
    assert mounts["/home/argocd/cmp-server/plugins"] == "plugins"
    assert {volume["name"] for volume in pod["volumes"]} >= set(mounts.values())
    # Helm in the sidecar signs in to Harbor as the robot and trusts Harbor's CA.
    env = {item["name"]: item["value"] for item in sidecar["env"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for variable, volume, source in (
        ("HARBOR_MIRROR_SECRET_FILE", "harbor-mirror-robot", ("secret", "secretName")),
        ("HARBOR_MIRROR_CA_FILE", "harbor-mirror-ca", ("configMap", "name")),
    ):
        directory = os.path.dirname(env[variable])
        assert mounts[directory] == volume
        assert volumes[volume][source[0]][source[1]] == volume


def test_sidecar_image_recipe_bakes_the_plugin_where_argo_cd_reads_it() -> None:
    dockerfile = (ARGOCD / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY integrations/argocd/plugin.yaml /home/argocd/cmp-server/config/plugin.yaml" in (
        dockerfile
    )
    assert "\nUSER 999\n" in dockerfile
    assert "ARG HELM_VERSION=v4." in dockerfile
    assert "sha256sum -c" in dockerfile
    assert "pip install --no-cache-dir /src" in dockerfile
    # plugin.yaml's steps run harbor-mirror-cmp, which is cmp.sh on the image's PATH.
    assert "COPY --chmod=0755 integrations/argocd/cmp.sh /usr/local/bin/harbor-mirror-cmp" in (
        dockerfile
    )
    spec = read_yaml(PLUGIN)["spec"]
    assert spec["init"]["command"] == ["harbor-mirror-cmp", "init"]
    assert spec["generate"]["command"] == ["harbor-mirror-cmp", "generate"]


UPSTREAM_CHARTS = "oci://dp.apps.rancher.io/charts"
NO_UPSTREAM_SECRET = "upstreamPullSecret:\n  create: false\n"


def _sidecar_through_harbor(mirror: Mirror, tmp_path: Path, helm4: Path, **app_env: str):
    """The sidecar as repo-server-patch.yaml sets it up: Harbor host, the mounted Secret file
    (the admin stands in for setup's robot) and CA; no route to the upstream."""
    secret_file = tmp_path / "robot" / "pull-secret.json"
    secret_file.parent.mkdir()
    secret_file.write_text(
        secret_manifest("application-collection", mirror.host, ADMIN_USERNAME, ADMIN_PASSWORD)
    )
    env = _argocd_env(tmp_path, helm4, **app_env)
    env.update(
        HARBOR_MIRROR_HARBOR_HOST=mirror.host,
        HARBOR_MIRROR_SECRET_FILE=str(secret_file),
        HARBOR_MIRROR_CA_FILE=str(mirror.harbor.ca_file),
        TMPDIR=str(tmp_path / "tmp"),
    )
    (tmp_path / "tmp").mkdir()
    return env


def _chart_pulls(mirror: Mirror) -> list[str]:
    return [r.path for r in mirror.harbor.requests
            if r.path == "/v2/application-collection/charts/etcd-like/manifests/0.1.0"]


def test_init_fetches_upstream_dependencies_through_harbor(
    mirror: Mirror, helm4: Path, tmp_path: Path
) -> None:
    app = tmp_path / "umbrella"
    app.mkdir()
    chart_yaml = (
        "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n"
        f"- name: etcd-like\n  version: 0.1.0\n  repository: {UPSTREAM_CHARTS}\n"
    )
    (app / "Chart.yaml").write_text(chart_yaml)
    (app / "values.yaml").write_text("etcd-like:\n  upstreamPullSecret:\n    create: false\n")
    env = _sidecar_through_harbor(mirror, tmp_path, helm4)

    init = _run_step("init", app, env)

    assert init.returncode == 0, init.stderr
    assert [path.name for path in (app / "charts").iterdir()] == ["etcd-like-0.1.0.tgz"]
    assert (app / "Chart.yaml").read_text() == chart_yaml  # the app's Chart.yaml is not edited
    assert _chart_pulls(mirror)
    generated = _run_step("generate", app, env)
    assert generated.returncode == 0, generated.stderr
    assert upstream_mentions(generated.stdout) == []
    assert f"image: {mirror.host}/application-collection/containers/etcd:" in generated.stdout


@pytest.mark.parametrize(
    "chart", [{"CHART": f"{UPSTREAM_CHARTS}/etcd-like", "CHART_VERSION": "0.1.0"},
              {"CHART": f"{UPSTREAM_CHARTS}/etcd-like:0.1.0"}],  # a tag in the URL, as helm takes
    ids=["version", "tag"],
)  # fmt: skip
def test_generate_pulls_the_apps_chart_through_harbor(
    mirror: Mirror, helm4: Path, tmp_path: Path, chart: dict[str, str]
) -> None:
    app = tmp_path / "values-only"
    app.mkdir()
    (app / "values.yaml").write_text(NO_UPSTREAM_SECRET)
    env = _sidecar_through_harbor(mirror, tmp_path, helm4, **chart, VALUES_FILES="values.yaml")

    generated = _run_step("generate", app, env)

    assert generated.returncode == 0, generated.stderr
    assert _chart_pulls(mirror)
    assert upstream_mentions(generated.stdout) == []
    documents = [doc for doc in load_as_kubernetes(generated.stdout) if doc]
    assert not [doc for doc in documents if doc["kind"] == "Secret"]  # the values file applied
    hook = next(
        doc for doc in documents if "helm.sh/hook" in (doc["metadata"].get("annotations") or {})
    )
    image = hook["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith(f"{mirror.host}/application-collection/")
    assert list((tmp_path / "tmp").iterdir()) == []  # the pulled chart is not left behind


def test_generate_refuses_a_chart_that_is_not_oci(app: Path, helm4: Path, tmp_path: Path) -> None:
    env = _argocd_env(tmp_path, helm4, sidecar_host=HARBOR_HOST, CHART="https://charts.example/x")
    generated = _run_step("generate", app, env)
    assert generated.returncode == 2
    assert generated.stdout == ""
    assert generated.stderr == (
        "harbor-mirror CMP: CHART 'https://charts.example/x' must be an oci:// chart URL\n"
    )


def test_generate_with_the_apps_lock_file_pins_the_chart_and_every_image(
    mirror: Mirror, helm4: Path, tmp_path: Path
) -> None:
    app = tmp_path / "values-only"
    app.mkdir()
    (app / "values.yaml").write_text(NO_UPSTREAM_SECRET + "images:\n  volumePermissions:\n"
                                     "    digest: ''\n")  # busybox by tag
    chart = {"CHART": f"{UPSTREAM_CHARTS}/etcd-like", "CHART_VERSION": "0.1.0"}
    env = _sidecar_through_harbor(mirror, tmp_path, helm4, **chart, VALUES_FILES="values.yaml",
                                  LOCK_FILE="harbor-mirror.lock")
    written = subprocess.run(  # what the user runs and commits beside the values file
        ["harbor-mirror", "verify", "demo", chart["CHART"], "--version", "0.1.0", "-f",
         app / "values.yaml", "--warm", "--platform", "linux/amd64",
         "--write-lock", app / "harbor-mirror.lock"],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )
    assert written.returncode == 0, written.stderr
    mirror.harbor.clear_log()

    generated = _run_step("generate", app, env)

    assert generated.returncode == 0, generated.stderr
    images = re.findall(r"image: (\S+)", generated.stdout)
    harbor_images = [i for i in images if i.startswith(f"{mirror.host}/application-collection/")]
    assert len(harbor_images) >= 3 and all("@sha256:" in image for image in harbor_images)
    chart_asks = [r.path for r in mirror.harbor.requests
                  if "/charts/etcd-like/manifests/" in r.path]
    assert chart_asks and all("/manifests/sha256:" in path for path in chart_asks)


def test_generate_refuses_a_lock_file_outside_the_application(
    app: Path, helm4: Path, tmp_path: Path
) -> None:
    env = _argocd_env(tmp_path, helm4, sidecar_host=HARBOR_HOST, LOCK_FILE="../lock.yaml")
    generated = _run_step("generate", app, env)
    assert generated.returncode == 2
    assert generated.stderr == ("harbor-mirror CMP: lock file '../lock.yaml' must be a path "
                                "inside the application\n")
