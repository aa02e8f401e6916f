{{/*
metal-vrrp.labels: the labels every object of the release carries besides its own (the kustomize manifests add only
part-of; the rest is Helm's usual bookkeeping). Selectors and pod templates never get these, so they stay equal to the
manifests' and an upgrade never changes an immutable selector.
*/}}
{{- define "metal-vrrp.labels" -}}
app.kubernetes.io/part-of: metal-vrrp
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* metal-vrrp.image: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "metal-vrrp.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/*
metal-vrrp.commonArgs: the flags both binaries take, rendered only when a value differs from the binary's default, so
the default arguments stay those of the manifests.
*/}}
{{- define "metal-vrrp.commonArgs" -}}
{{- if .Values.loadBalancerClass }}
- {{ printf "--lb-class=%s" .Values.loadBalancerClass | quote }}
{{- end }}
{{- if ne (int .Values.metrics.port) 7472 }}
- {{ printf "--metrics-port=%d" (int .Values.metrics.port) | quote }}
{{- end }}
{{- if .Values.logLevel }}
- {{ printf "--log-level=%s" .Values.logLevel | quote }}
{{- end }}
{{- end }}

{{/* metal-vrrp.pullPolicy: imagePullPolicy when set, else nothing (Kubernetes' default). */}}
{{- define "metal-vrrp.pullPolicy" -}}
{{- with .Values.image.pullPolicy }}
imagePullPolicy: {{ . }}
{{- end }}
{{- end }}
