{{- /*
The two worker Deployments, one per work queue (tasks/topology.py), as
"name: {values key, role, queue}":
  worker     transform on a process pool, a child per core: it keeps cores busy
  worker-io  fetch, validate, upload and notify on threads: they wait on the network
Each is scaled by KEDA on its own queue.
*/ -}}
{{- define "pixelflow.workers" -}}
worker: {key: worker, role: worker-transform, queue: {{ printf "%s.transform" .Values.config.PIXELFLOW_QUEUE | quote }}}
worker-io: {key: ioWorker, role: worker-io, queue: {{ .Values.config.PIXELFLOW_QUEUE | quote }}}
{{- end -}}
