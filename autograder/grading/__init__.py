"""The batch grader: collect -> sanitize -> run in a sandbox -> judge in the trusted process -> record -> report.

Split along the trust boundary:
- `runner/`: everything that runs beside student code and ships into the sandbox (worker, clean template,
  child, isolation, cgroups, protocol, phases, `wire` records, `limits`); it imports nothing trusted.
- `inbox/`: untrusted uploads in (`collect`, `reading`, `notebook`, `sanitize`, `layout`).
- `core/`: the trusted records (`model`), one submission end to end (`student`), the sandbox it starts,
  the judge, the worker `pool` every driver shares.
- `drivers/`: the batch (`pipeline`, `progress`), a Dask cluster (`cluster/`), the HTTP `service/`.
- `outputs/`: stored results, grades.csv and totals, feedback pages, the cohort report, gradebook exports.
"""
