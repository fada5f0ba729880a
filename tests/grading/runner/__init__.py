"""Tests mirroring autograder/grading/runner."""
