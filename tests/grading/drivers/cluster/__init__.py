"""Tests mirroring autograder/grading/drivers/cluster."""
