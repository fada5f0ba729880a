"""What a batch writes: stored results, grades and totals, feedback pages, the cohort report, exports."""
