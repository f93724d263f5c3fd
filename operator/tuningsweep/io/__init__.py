"""Adapters to the outside world (storage, metrics, Kubernetes); ``core`` stays pure.

Import the adapter modules directly (``from tuningsweep.io.storage import open_store``);
this package re-exports nothing, so importing one adapter never pulls in the others'
client libraries.
"""
