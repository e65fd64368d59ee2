{{- define "mesh-operator.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mesh-operator.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The pull-secret names, as a list of strings (what injected pods are given). */}}
{{- define "mesh-operator.pullSecretNames" -}}
{{- $names := list -}}
{{- range .Values.global.imagePullSecrets }}{{ $names = append $names .name }}{{ end -}}
{{- toJson $names -}}
{{- end -}}

{{/* The injector's values: the operator builds each sidecar's image as hub/image:tag. */}}
{{- define "mesh-operator.injectorValues" -}}
{{- $values := dict "global" (dict
      "hub" (printf "%s/containers" .Values.global.imageRegistry)
      "imagePullSecrets" (include "mesh-operator.pullSecretNames" . | fromJsonArray)
      "proxy" (dict "image" "mesh-proxy" "tag" .Values.images.proxy.tag "cpu" .Values.injector.proxyCPU))
  "policy" .Values.injector.policy -}}
{{- toPrettyJson $values -}}
{{- end -}}
