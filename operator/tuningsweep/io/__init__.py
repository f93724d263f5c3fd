"""Adapters to files and object storage; ``core`` stays pure.

* :mod:`.manifests`: reading sweep manifests from files or stdin (validation is core's).
* :mod:`.storage`: the :class:`~.storage.Store` contract and :func:`~.storage.open_store`,
  which picks :mod:`.local_store` (a folder, atomic writes) or :mod:`.gcs_store`
  (``gs://``, retried; google-cloud-storage is imported only then).
* :mod:`.gcs_client`: the one GCS client factory, shared with the trainer image.
* :mod:`.throttled_writer`: rewrites of an object coalesced to the rate GCS allows.
* :mod:`.results_store`: one sweep's results folder (rows, summary, pinned windows,
  resolved spec) in the layout of :mod:`tuningsweep.core.records.layout`.
* :mod:`.errors`: :class:`~.errors.StorageError`, a user error importable without any
  client library.

The cluster's adapters (Kubernetes API, Prometheus, Pushgateway) live in
:mod:`tuningsweep.controller`. This package re-exports nothing, so importing one adapter
never pulls in another's client library.
"""
