"""Known wrong variants of the exercises, as small kernels the checks use to name a mistake."""
