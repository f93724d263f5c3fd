"""The Kubernetes operator: kopf handlers (thin) over a per-sweep reconciler.

Layers, each importing only those below it:

* ``handlers`` (kopf only): a daemon per sweep, the Job watch, startup settings;
* ``reconciler``: one sweep's step, orchestrating ``opening`` (validate, results,
  windows), ``job_creation``, ``collection``, ``flushing`` and ``status_writer``;
* ``ports``: the Protocols those are written against; ``kube``, ``prom`` and the
  results store are the real implementations, ``jobwatch`` the Job list-and-watch;
* ``tuningsweep.core``: the pure decision core, planner and result rules, shared with
  the local executor.
"""
