"""Write autograded scores into an nbgrader gradebook, so `nbgrader export` lists the same totals."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, TextIO

from autograder.checks.spec import Assignment
from autograder.grading.core.model import Result


def db_url(target: str) -> str:
    """An SQLAlchemy URL: kept as is if it has a scheme, else a path to an SQLite file."""
    return target if "://" in target else f"sqlite:///{Path(target).resolve()}"


def _alembic_head() -> str:
    """The schema version nbgrader stamps on a new gradebook, read from its migrations in-process."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError(f"nbgrader's migrations in {ALEMBIC_DIR} have no head revision")
    return head


def stamp_if_new(url: str) -> None:
    """Give an empty gradebook nbgrader's version stamp, as `Gradebook` would by running the `alembic`
    command, which need not be on PATH (so nothing here changes os.environ)."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url, future=True)
    try:
        if inspect(engine).get_table_names():
            return
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": _alembic_head()})
    finally:
        engine.dispose()


def to_gradebook(target: str, assignment: Assignment, results: dict[str, Result], stream: TextIO = sys.stderr
                 ) -> int:
    """Create the assignment, notebook, grade cells, students and submissions as needed; set auto scores.

    Returns how many students were written. Manual grades already in the gradebook are left alone. A student
    the gradebook refuses is left out with a line on `stream` saying why; the others are written all the same.
    """
    from nbgrader.api import Gradebook

    url = db_url(target)
    stamp_if_new(url)
    notebook = Path(assignment.notebook).stem
    with warnings.catch_warnings(), Gradebook(url) as gb:
        # nbgrader 0.9.6's add_submission trips SQLAlchemy 2's autoflush warning; the rows are written all the same
        # (tests/grading/core/test_corpus.py reads them back through `nbgrader export`).
        warnings.filterwarnings("ignore", message=".*not in session.*", module="nbgrader")
        gb.update_or_create_assignment(assignment.id)
        gb.update_or_create_notebook(notebook, assignment.id)
        for q in assignment.questions:
            gb.update_or_create_grade_cell(q.grade_id, notebook, assignment.id, max_score=q.points,
                                           cell_type="code")
        written = 0
        for student_id, result in sorted(results.items()):
            try:
                _write_student(gb, assignment, notebook, student_id, result)
            except Exception as exc:  # noqa: BLE001 - one student's row never stops the others' export
                gb.db.rollback()
                print(f"gradebook: {student_id} not written ({type(exc).__name__}: {str(exc)[:200]})", file=stream)
                continue
            written += 1
    return written


def _write_student(gb: Any, assignment: Assignment, notebook: str, student_id: str, result: Result) -> None:
    """One student's submission and auto scores, committed."""
    from nbgrader.api import Grade, MissingEntry

    gb.update_or_create_student(student_id)
    try:
        gb.find_submission(assignment.id, student_id)
    except MissingEntry:
        gb.add_submission(assignment.id, student_id)
    submitted = gb.find_submission_notebook(notebook, assignment.id, student_id)
    for row in result.rows:
        try:
            grade = gb.find_grade(row.grade_id, notebook, assignment.id, student_id)
        except MissingEntry:  # a grade cell added after this submission was created
            cell = gb.find_grade_cell(row.grade_id, notebook, assignment.id)
            grade = Grade(cell_id=cell.id, notebook=submitted)
            gb.db.add(grade)
        grade.auto_score = float(row.score)
        grade.manual_score = None
        grade.needs_manual_grade = False
    gb.db.commit()
