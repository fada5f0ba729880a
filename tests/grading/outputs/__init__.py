"""Tests mirroring autograder/grading/outputs."""
