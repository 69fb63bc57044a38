{{/*
Labels on every object: the kustomize tree's part-of, plus the two that
only Helm sets (test/e2e/test_chart.py ignores exactly these when it
compares the chart with the kustomize tree). No helm.sh/chart: a label that
changes with the chart's version would make every upgrade change the system
templates, which the webhook lets only the controller do.
*/}}
{{- define "spacekeeper.labels" -}}
app.kubernetes.io/part-of: spacekeeper
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The pods' own labels (and selectors) for a component: webhook or controller. */}}
{{- define "spacekeeper.selector" -}}
app.kubernetes.io/name: spacekeeper
app.kubernetes.io/component: {{ . }}
{{- end }}

{{- define "spacekeeper.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The controller's identity, which the webhook trusts. */}}
{{- define "spacekeeper.controllerUser" -}}
system:serviceaccount:{{ .Release.Namespace }}:spacekeeper-controller
{{- end }}

{{/* The webhook's Service names, in its serving certificate. */}}
{{- define "spacekeeper.dnsNames" -}}
- spacekeeper.{{ .Release.Namespace }}.svc
- spacekeeper.{{ .Release.Namespace }}.svc.cluster.local
{{- end }}

{{/*
Pod placement and hardening shared by both Deployments; the argument is
(dict "root" $ "values" .Values.webhook).
*/}}
{{- define "spacekeeper.podPlacement" -}}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
terminationGracePeriodSeconds: 30
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  seccompProfile: {type: RuntimeDefault}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The container's security context and health probes, alike in both programs. */}}
{{- define "spacekeeper.containerHardening" -}}
readinessProbe:
  httpGet: {path: /readyz, port: health}
  periodSeconds: 5
  failureThreshold: 2
livenessProbe:
  httpGet: {path: /healthz, port: health}
  initialDelaySeconds: 5
  periodSeconds: 10
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: [ALL]}
{{- end }}

{{/* A PodDisruptionBudget for a component, when it has 2 replicas or more. */}}
{{- define "spacekeeper.pdb" -}}
{{- if ge (int .replicas) 2 }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "spacekeeper.labels" .root | nindent 4 }}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      {{- include "spacekeeper.selector" .component | nindent 6 }}
{{- end }}
{{- end }}
