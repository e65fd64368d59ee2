{{- define "etcd-like.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "etcd-like.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* registry/repository:tag@digest, the registry defaulting to global.imageRegistry. */}}
{{- define "etcd-like.image" -}}
{{- $registry := .image.registry | default .global.imageRegistry -}}
{{- $ref := printf "%s/%s" $registry .image.repository -}}
{{- if .image.tag }}{{ $ref = printf "%s:%s" $ref .image.tag }}{{ end -}}
{{- if .image.digest }}{{ $ref = printf "%s@%s" $ref .image.digest }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{- define "etcd-like.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets -}}
imagePullSecrets:
{{ toYaml . }}
{{- end }}
{{- end -}}
