"""Course kit for "Taming exploding gradients": device choice, reference kernels, checks and the batch grader."""

__all__ = ["device", "reference"]
