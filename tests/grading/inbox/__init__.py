"""Tests mirroring autograder/grading/inbox."""
