"""The trusted core: its records, one submission graded end to end, the sandbox it starts, the judge, the pool."""
