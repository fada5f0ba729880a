"""`python -m autograder serve`: students submit a notebook over HTTP and get the batch grader's result in seconds.

app.py (the Starlette routes), db.py (SQLAlchemy models; Alembic migrations in migrations/), tokens.py
(student and instructor tokens, stored hashed), policy.py (deadline, late handling, which submission
counts, rate limit), grading.py (the threads that grade accepted submissions with the core pool),
export.py (the batch's outputs from the database), command.py (the command-line options).
"""
