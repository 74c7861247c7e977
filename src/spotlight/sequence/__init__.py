"""Sequence models: the estimator and its networks."""
