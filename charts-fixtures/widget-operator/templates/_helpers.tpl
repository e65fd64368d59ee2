{{- define "widget-operator.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "widget-operator.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* registry/repository:tag@digest for images.<name>, the registry defaulting to global.imageRegistry. */}}
{{- define "widget-operator.image" -}}
{{- $image := index .root.Values.images .name -}}
{{- $ref := printf "%s/%s" ($image.registry | default .root.Values.global.imageRegistry) $image.repository -}}
{{- if $image.tag }}{{ $ref = printf "%s:%s" $ref $image.tag }}{{ end -}}
{{- if $image.digest }}{{ $ref = printf "%s@%s" $ref $image.digest }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{- define "widget-operator.pullSecretNames" -}}
{{- $names := list -}}
{{- range .Values.global.imagePullSecrets }}{{ $names = append $names .name }}{{ end -}}
{{- join "," $names -}}
{{- end -}}
