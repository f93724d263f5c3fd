{{/*
Names. Kubernetes names are at most 63 characters; component names keep room for their
suffix so that two components can never collide after truncation.
*/}}
{{- define "tuningsweep.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tuningsweep.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<fullname>-<suffix>", the fullname shortened so the result fits 63 characters. */}}
{{- define "tuningsweep.componentName" -}}
{{- $ctx := index . 0 }}
{{- $suffix := index . 1 }}
{{- $room := sub 62 (len $suffix) | int }}
{{- printf "%s-%s" (include "tuningsweep.fullname" $ctx | trunc $room | trimSuffix "-") $suffix }}
{{- end }}

{{- define "tuningsweep.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "tuningsweep.labels" -}}
helm.sh/chart: {{ include "tuningsweep.chart" . }}
app.kubernetes.io/name: {{ include "tuningsweep.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tuningsweep
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: (list $ "operator"). Immutable once installed. */}}
{{- define "tuningsweep.selectorLabels" -}}
{{- $ctx := index . 0 -}}
app.kubernetes.io/name: {{ include "tuningsweep.name" $ctx }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* Labels of one component's resources: (list $ "operator"). */}}
{{- define "tuningsweep.componentLabels" -}}
{{ include "tuningsweep.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "tuningsweep.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tuningsweep.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* An image reference from {repository, tag, digest}: (list $image $defaultTag). */}}
{{- define "tuningsweep.image" -}}
{{- $image := index . 0 }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default (index . 1) $image.tag) }}
{{- end }}
{{- end }}

{{/* The Pushgateway URL trainers push to: the in-chart one by its cluster DNS name (the
trainers run in other namespaces), or the external one. */}}
{{- define "tuningsweep.pushgatewayURL" -}}
{{- if .Values.pushgateway.enabled }}
{{- printf "http://%s.%s.svc:%v" (include "tuningsweep.componentName" (list . "pushgateway")) .Release.Namespace .Values.pushgateway.service.port }}
{{- else }}
{{- required "pushgateway.url is required when pushgateway.enabled is false (the Pushgateway trainers push their metrics to)" .Values.pushgateway.url }}
{{- end }}
{{- end }}

{{/* The rules the operator needs in each namespace it watches; the same list serves the
ClusterRole (all namespaces) and the Roles (listed namespaces). Kept to what the operator
calls: tests/chart/test_rbac_matches_operator.py compares them with the API requests of
a real operator run. */}}
{{- define "tuningsweep.namespacedRules" -}}
# The sweeps: kopf lists and watches them, patches them (finalizer, annotations);
# the reconciler patches their status. A recurring sweep (spec.schedule) lists its runs,
# creates each as a child sweep when its slot comes and deletes those past historyLimit.
- apiGroups: ["tuningsweep.io"]
  resources: ["tuningsweeps"]
  verbs: ["list", "watch", "patch", "create", "delete"]
- apiGroups: ["tuningsweep.io"]
  resources: ["tuningsweeps/status"]
  verbs: ["patch"]
# The trials: the operator keeps Jobs from its own list and watch; the reconciler creates
# them, and deletes those early stopping ends and those of recorded trials (jobRetention).
# Deleting a sweep deletes its Jobs through their ownerReferences, not the operator.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["list", "watch", "create", "deletecollection"]
# A failed trial's pods: their termination message is the trainer's last error line.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
# Events on the sweeps (windows pinned, stages, success, failures).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- if and .Values.operator.peering.enabled .Values.operator.watchNamespaces }}
# kopf peering, per namespace.
- apiGroups: ["kopf.dev"]
  resources: ["kopfpeerings"]
  verbs: ["list", "watch", "patch"]
{{- end }}
{{- end }}

{{/* The CRD's metadata: the generated name plus chart labels and, by choice, the keep policy. */}}
{{- define "tuningsweep.crdMetadata" -}}
metadata:
  labels:
    {{- include "tuningsweep.labels" . | nindent 4 }}
  {{- if .Values.crds.keep }}
  annotations:
    helm.sh/resource-policy: keep
  {{- end }}
{{- end }}

{{/* Checks of value combinations the schema cannot express. */}}
{{- define "tuningsweep.validate" -}}
{{- if and .Values.gcs.workloadIdentity.gcpServiceAccount .Values.gcs.credentialsSecret.name }}
{{- fail "gcs: set either workloadIdentity.gcpServiceAccount or credentialsSecret.name, not both" }}
{{- end }}
{{- if and .Values.pushgateway.serviceMonitor.enabled (not .Values.pushgateway.enabled) }}
{{- fail "pushgateway.serviceMonitor.enabled needs the in-chart Pushgateway (pushgateway.enabled); scrape an external one where it runs" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.service.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.service.enabled" }}
{{- end }}
{{- end }}
