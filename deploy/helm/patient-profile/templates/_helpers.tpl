{{/* The release's name for its objects: the release name, with the chart's unless it has it. */}}
{{- define "pp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* A component's name: <fullname>-producer, <fullname>-consumer. Also the Prometheus job. */}}
{{- define "pp.name" -}}
{{- printf "%s-%s" (include "pp.fullname" .root) .component -}}
{{- end -}}

{{- define "pp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ include "pp.tag" .root | quote }}
app.kubernetes.io/part-of: patient-profile
{{ include "pp.selectorLabels" . }}
{{- end -}}

{{- define "pp.selectorLabels" -}}
app.kubernetes.io/name: patient-profile
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pp.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{/* <registry>/<repository>/<binary>:<tag>, as `make image` names the images. */}}
{{- define "pp.image" -}}
{{- $repo := printf "%s/%s" .root.Values.image.repository .component -}}
{{- if .root.Values.image.registry -}}
{{- $repo = printf "%s/%s" .root.Values.image.registry $repo -}}
{{- end -}}
{{- printf "%s:%s" $repo (include "pp.tag" .root) -}}
{{- end -}}

{{- define "pp.serviceAccountName" -}}
{{- $sa := index .root.Values .component "serviceAccount" -}}
{{- if $sa.create -}}
{{- $sa.name | default (include "pp.name" .) -}}
{{- else -}}
{{- $sa.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "pp.tokensSecret" -}}
{{- .Values.apiTokens.existingSecret | default (printf "%s-api-tokens" (include "pp.fullname" .)) -}}
{{- end -}}

{{- define "pp.tokensEnabled" -}}
{{- if or .Values.apiTokens.existingSecret .Values.apiTokens.tokens -}}true{{- end -}}
{{- end -}}

{{/* What both services need to reach Kafka. */}}
{{- define "pp.kafkaEnv" -}}
- name: KAFKA_BROKERS
  value: {{ join "," .Values.kafka.brokers | quote }}
- name: TOPIC_NAME
  value: {{ .Values.kafka.topic | quote }}
- name: KAFKA_TLS
  value: {{ .Values.kafka.tls | quote }}
{{- with .Values.kafka.sasl.mechanism }}
- name: KAFKA_SASL_MECHANISM
  value: {{ . | quote }}
{{- end }}
{{- if and .Values.kafka.sasl.mechanism (ne .Values.kafka.sasl.mechanism "AWS_MSK_IAM") }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.sasl.secretName is needed for PLAIN and SCRAM" .Values.kafka.sasl.secretName }}
      key: username
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.secretName }}
      key: password
{{- end }}
{{- with .Values.aws.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The settings every pod of the chart shares, and the tokens file if there are tokens. */}}
{{- define "pp.commonEnv" -}}
- name: SHUTDOWN_TIMEOUT
  value: {{ printf "%ds" (int .values.shutdownTimeoutSeconds) | quote }}
{{- with .values.goMemLimit }}
- name: GOMEMLIMIT
  value: {{ . | quote }}
{{- end }}
{{- if include "pp.tokensEnabled" .root }}
- name: API_TOKENS_FILE
  value: /etc/patient-profile/api-tokens/{{ .root.Values.apiTokens.key }}
{{- end }}
{{- range $k, $v := .values.env }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{/* Non-root, read-only, no capabilities, the runtime's default seccomp profile. */}}
{{- define "pp.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "pp.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "pp.probes" -}}
# Up at all: it checks nothing else, so an outage of Kafka or DynamoDB restarts nothing.
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
# Able to work: the brokers, the topics and (consumer) the table answer, and the loop is not
# retrying. /readyz bounds its own checks to 3 s.
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/* The API tokens' Secret, mounted where API_TOKENS_FILE points, if there are tokens. */}}
{{- define "pp.tokensVolumeMounts" -}}
{{- if include "pp.tokensEnabled" . -}}
volumeMounts:
  - name: api-tokens
    mountPath: /etc/patient-profile/api-tokens
    readOnly: true
{{- end }}
{{- end -}}

{{- define "pp.tokensVolumes" -}}
{{- if include "pp.tokensEnabled" . -}}
volumes:
  - name: api-tokens
    secret:
      secretName: {{ include "pp.tokensSecret" . }}
      defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "pp.topologySpread" -}}
{{- if .values.topologySpread -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "pp.selectorLabels" . | nindent 8 }}
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "pp.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end -}}

{{/* The selector a PrometheusRule or a dashboard query uses for one component. */}}
{{- define "pp.promSelector" -}}
namespace="{{ .root.Release.Namespace }}",job="{{ include "pp.name" . }}"
{{- end -}}
