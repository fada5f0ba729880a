"""Tests of autograder/grading, one folder per folder of it."""
