"""Tests mirroring autograder/grading/core."""
