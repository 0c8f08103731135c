"""What operators read: JSON log lines on stderr, and the Prometheus metrics."""
