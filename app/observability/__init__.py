"""What operators read: JSON log lines on stderr, and the Prometheus metrics (shared_metrics
carries the scale-out workers' figures through Redis)."""
