"""Health probes and the metrics exposition: /healthz, /readyz, /metrics."""
