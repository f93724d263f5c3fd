"""The test services live in :mod:`cluster.services`, shared with ``make cluster-up``."""

from cluster.services import (
    FakeGcsServer,
    Prometheus,
    Pushgateway,
    Service,
    ServiceError,
    free_port,
    http_get,
)

__all__ = ["FakeGcsServer", "Prometheus", "Pushgateway", "Service", "ServiceError", "free_port",
           "http_get"]
