"""Tests mirroring autograder/grading/drivers."""
