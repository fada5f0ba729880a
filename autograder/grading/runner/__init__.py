"""What runs beside student code, inside the sandbox: the worker, the clean template, the child, their records.

This folder ships into the sandbox whole (core/sandbox.build_runner) and imports nothing from the
trusted side (tests/grading/runner/test_worker.py checks it): only itself, `autograder.plain`,
`autograder.device` and the checks' calling side.
"""
