"""The Kubernetes operator: kopf handlers (thin) over a per-sweep reconciler.

Layers: ``handlers`` (kopf only) -> ``reconciler`` (the loop: list Jobs, collect, plan,
create, status) -> ``kube``/``prom``/results store (I/O) -> ``tuningsweep.core`` (pure).
"""
