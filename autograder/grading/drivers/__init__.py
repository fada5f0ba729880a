"""What drives the core: the batch (`pipeline`), its progress, a Dask cluster (`cluster/`), the service."""
