"""The Kubernetes objects: each trial's Job and the CustomResourceDefinition."""
