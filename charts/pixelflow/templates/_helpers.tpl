{{- define "pixelflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pixelflow.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: pass (list $ "api"). */}}
{{- define "pixelflow.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "pixelflow.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "pixelflow.fullname" .)) -}}
{{- end -}}

{{- define "pixelflow.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* What every PixelFlow container shares: image, settings, security, a writable /tmp. */}}
{{- define "pixelflow.container" -}}
image: {{ include "pixelflow.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
envFrom:
  - configMapRef:
      name: {{ include "pixelflow.fullname" . }}-config
  - secretRef:
      name: {{ include "pixelflow.secretName" . }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{/* What every pod shares: pull secrets, security, a writable /tmp, and where it may run
(the role's nodeSelector, affinity and tolerations, else the chart-wide ones): pass (list $ "worker"). */}}
{{- define "pixelflow.pod" -}}
{{- $root := index . 0 -}}
{{- $role := index $root.Values (index . 1) -}}
serviceAccountName: {{ include "pixelflow.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with ($role.nodeSelector | default $root.Values.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with ($role.affinity | default $root.Values.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with ($role.tolerations | default $root.Values.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir: {}
{{- end -}}

{{/* Pod annotations for Prometheus' kubernetes_sd scrape config: pass (list $ port). */}}
{{- define "pixelflow.scrape" -}}
{{- $root := index . 0 -}}
{{- if $root.Values.metrics.podAnnotations }}
annotations:
  prometheus.io/scrape: "true"
  prometheus.io/port: {{ index . 1 | quote }}
  prometheus.io/path: /metrics
  checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
{{- else }}
annotations:
  checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
{{- end }}
{{- end -}}

{{/* The ServiceAccount of a role: pass (list $ "ioWorker"). */}}
{{- define "pixelflow.serviceAccountName" -}}
{{- $root := index . 0 -}}
{{- if $root.Values.serviceAccount.create -}}
{{- printf "%s-%s" (include "pixelflow.fullname" $root) (kebabcase (index . 1)) | trunc 63 | trimSuffix "-" -}}
{{- else -}}
default
{{- end -}}
{{- end -}}

{{/* The roles the chart runs, by values key. */}}
{{- define "pixelflow.roles" -}}
{{- $roles := list "api" "worker" "ioWorker" "relay" -}}
{{- if .Values.exporter.enabled }}{{ $roles = append $roles "exporter" }}{{ end -}}
{{- if .Values.flower.enabled }}{{ $roles = append $roles "flower" }}{{ end -}}
{{- join " " $roles -}}
{{- end -}}

{{/* "true" when the pods that reach storage get an IAM role through IRSA (eks.amazonaws.com/role-arn): they then
use its web-identity credentials instead of keys. */}}
{{- define "pixelflow.irsa" -}}
{{- $arn := "eks.amazonaws.com/role-arn" -}}
{{- $found := hasKey (.Values.serviceAccount.annotations | default dict) $arn -}}
{{- range $key := list "api" "worker" "ioWorker" -}}
{{- $own := (index $.Values $key).serviceAccount | default dict -}}
{{- if hasKey ($own.annotations | default dict) $arn }}{{ $found = true }}{{ end -}}
{{- end -}}
{{- ternary "true" "" $found -}}
{{- end -}}
