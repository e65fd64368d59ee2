"""A name or label that happens to spell the upstream host is a name: it stays, because
`HARBOR/PROJECT`'s slash would make the API server refuse the object, and no pull comes of it."""

from __future__ import annotations

from postrender.rewrite.rules import Rules
from postrender.rewrite.stream import rewrite_stream
from postrender.settings import Settings

RULES = Rules.from_settings(Settings(harbor_host="harbor.example.com"))
H = "harbor.example.com/application-collection"
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: dp.apps.rancher.io
  namespace: dp.apps.rancher.io
  labels:
    registry: dp.apps.rancher.io
spec:
  serviceAccountName: dp.apps.rancher.io
  imagePullSecrets:
    - name: dp.apps.rancher.io
  containers:
    - name: dp.apps.rancher.io
      image: dp.apps.rancher.io/containers/x:1
      env:
        - name: REGISTRY
          value: dp.apps.rancher.io
"""


def test_names_and_labels_spelling_the_host_stay_while_the_registry_setting_moves():
    expected = POD.replace("image: dp.apps.rancher.io/", f"image: {H}/").replace(
        "value: dp.apps.rancher.io", f"value: {H}")
    assert rewrite_stream(POD, RULES).text == expected


def test_strict_takes_such_names_for_no_leak():
    assert rewrite_stream(POD, RULES, strict=True).text.count("dp.apps.rancher.io") == 6
