"""The batch grader: collect -> sanitize -> run in a sandbox -> judge in the trusted process -> record -> report.

Each step is a small module: `collect` (folders and LMS zips), `notebook` + `sanitize` (read and repair
untrusted notebooks), `student` (one submission end to end), `sandbox` + `worker` + `kernel` (where
student code runs), `judging` (trusted comparison), `records` (atomic per-student results, CSV),
`outputs`, `report` and `export` (HTML, Gradescope, nbgrader gradebook), tied together by `pipeline`
(or `cluster` + `node` on Dask). The records they pass to each other are defined once, in `model`.
"""
