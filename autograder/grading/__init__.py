"""The batch grader: collect -> sanitize -> run in a sandbox -> judge in the trusted process -> record -> report.

Each step is a small module: `collect` (folders and LMS zips), `notebook` + `sanitize` (read and repair
untrusted notebooks), `sandbox` + `worker` + `kernel` (where student code runs), `judging` (trusted
comparison), `records` (atomic per-student results, CSV), `report` and `export` (HTML, Gradescope,
nbgrader gradebook), tied together by `pipeline`.
"""
