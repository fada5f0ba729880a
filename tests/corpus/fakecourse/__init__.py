"""A fake course for the grader's tests: one small assignment ('fake') and its source notebook."""
