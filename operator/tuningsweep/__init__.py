"""tuningsweep: hyperparameter tuning across rolling date windows, locally or on Kubernetes."""

__version__ = "0.1.0"
