"""Grading on a Dask cluster: the batch's client side, the worker node's plugin, the service's remote pool."""
