"""A real Kubernetes control plane on loopback, for trying the operator and for its tests.

``make cluster-up`` (``python -m cluster up``) builds pinned binaries once (``build.sh``,
cached under ``~/.cache/tuningsweep``) and starts, as local processes on 127.0.0.1:

* etcd, kube-apiserver (RBAC, service-account tokens, PodSecurity ``restricted`` by
  default, NodeRestriction, admission webhooks, an audit log), kube-controller-manager
  (the Job, garbage-collector, TTL and node-lifecycle controllers among the defaults,
  each with its own ServiceAccount) and kube-scheduler;
* Kueue's manager, its webhooks served on loopback;
* the node stand-in (:mod:`cluster.node`): the one part that cannot be real here, since
  there is no container runtime; it registers GKE-shaped GPU Nodes and runs each pod bound
  to them as a local process, reporting like a kubelet;
* Prometheus, the Pushgateway and a GCS emulator (:mod:`cluster.services`);
* the operator, as a process holding only its ServiceAccount's token.

Modules: :mod:`cluster.pki` (certificates and keys), :mod:`cluster.processes` (detached
processes with pid files), :mod:`cluster.controlplane` (the Kubernetes binaries),
:mod:`cluster.kueue`, :mod:`cluster.node`, :mod:`cluster.services`, :mod:`cluster.up`
(puts it together), :mod:`cluster.__main__` (the command line). The tests start the same
cluster in a temporary folder (``tests/kube``).
"""
