"""The TuningSweep spec: its schema (one tree, two consumers: the CLI and the CRD), reading manifests, the typed model, the cross-field rules and the pod fields passed through to Jobs."""
