"""Executors run planned trials: local processes or Kubernetes Jobs, one contract."""
