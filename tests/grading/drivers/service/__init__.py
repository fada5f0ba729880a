"""Tests mirroring autograder/grading/drivers/service."""
