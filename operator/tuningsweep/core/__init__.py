"""The pure core: spec model, windows, search spaces, planning, results and statistics.

Nothing in this package performs I/O, reads the clock or the environment, or imports
kopf, kubernetes, google.cloud, prometheus_client or tensorflow. Everything here is a
function of its arguments, so the local runner and the operator plan identically.
"""
