"""The service's database: people (hashed tokens), submissions (the notebook's bytes) and results.

SQLAlchemy, SQLite (one file) by default and any SQLAlchemy URL by option; the schema is created and
upgraded by the Alembic migrations shipped in `migrations/` (run at every start). A result's
`submission_id` is unique, so a submission can never get two results, whatever crashes in between.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from autograder.grading.core.model import Result, StaleRecord

MIGRATIONS = Path(__file__).with_name("migrations")


class Base(DeclarativeBase):
    """The service's tables."""


class Person(Base):
    """A student or an instructor, known by the sha256 of their token (the token itself is never stored)."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # student | instructor
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)


class Upload(Base):
    """One accepted submission: who, which assignment, when (seconds since the epoch), its bytes and hash."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[str] = mapped_column(String(64), index=True)
    assignment: Mapped[str] = mapped_column(String(64), index=True)
    received_at: Mapped[float] = mapped_column(Float)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    late: Mapped[bool] = mapped_column(Boolean)
    notebook: Mapped[bytes] = mapped_column(LargeBinary)


class Graded(Base):
    """The one result of a submission: its total, whether it can count (not refused) and the stored JSON."""

    __tablename__ = "results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    graded_at: Mapped[float] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    refused: Mapped[bool] = mapped_column(Boolean)  # not a notebook of this assignment: never counts
    result_json: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class Stored:
    """A submission and its result (None while it waits to be graded), as plain values."""

    id: int
    student_id: str
    assignment: str
    received_at: float
    sha256: str
    late: bool
    result: Result | None
    refused: bool = False


def url_for(target: str) -> str:
    """An SQLAlchemy URL: kept as is if it has a scheme, else a path to an SQLite file."""
    return target if "://" in target else f"sqlite:///{Path(target).resolve()}"


def engine_for(url: str) -> Engine:
    """An engine for `url`; SQLite in WAL mode with a busy timeout, usable from the service's threads."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the grading threads' writes
        cursor.execute("PRAGMA synchronous=FULL")  # an accepted submission survives a crash of the machine
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration (Alembic, scripts shipped in the package)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Store:
    """Every read and write the service makes, each in its own short transaction."""

    def __init__(self, url: str) -> None:
        """Open (and create or upgrade) the database at `url`."""
        self.engine = engine_for(url)
        upgrade(self.engine)
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def person(self, token_sha256: str) -> Person | None:
        """Whoever holds the token with this hash."""
        with self.session() as s:
            return s.scalar(select(Person).where(Person.token_sha256 == token_sha256))

    def set_tokens(self, tokens: list[tuple[str, str, str]]) -> None:
        """Give each (student_id, role, token_sha256) its token, replacing any earlier one: all or none."""
        with self.session.begin() as s:
            for student_id, role, token_sha256 in tokens:
                person = s.scalar(select(Person).where(Person.student_id == student_id))
                if person is None:
                    s.add(Person(student_id=student_id, role=role, token_sha256=token_sha256, created_at=time.time()))
                else:
                    person.role, person.token_sha256, person.created_at = role, token_sha256, time.time()

    def people(self, role: str | None = None) -> list[str]:
        """Ids of everyone with a token (of one role)."""
        with self.session() as s:
            query = select(Person.student_id).order_by(Person.student_id)
            return list(s.scalars(query.where(Person.role == role) if role else query))

    def add(self, student_id: str, assignment: str, notebook: bytes, sha256: str, late: bool,
            received_at: float) -> int:
        """Store an accepted submission (committed before the student is told it was accepted); its id."""
        with self.session.begin() as s:
            upload = Upload(student_id=student_id, assignment=assignment, received_at=received_at, sha256=sha256,
                            size=len(notebook), late=late, notebook=notebook)
            s.add(upload)
            s.flush()
            return upload.id

    def since(self, student_id: str, assignment: str, after: float) -> list[float]:
        """When this student's submissions of `assignment` after `after` arrived (the rate limit's window)."""
        with self.session() as s:
            return list(s.scalars(select(Upload.received_at).where(
                Upload.student_id == student_id, Upload.assignment == assignment, Upload.received_at > after)
                .order_by(Upload.received_at)))

    def ungraded(self) -> list[int]:
        """Accepted submissions without a result, oldest first (graded again after a restart)."""
        with self.session() as s:
            graded = select(Graded.submission_id)
            return list(s.scalars(select(Upload.id).where(Upload.id.not_in(graded)).order_by(Upload.id)))

    def forget_stale(self) -> list[int]:
        """Drop every result stored in an older form (model.RESULT_SCHEMA) or recording a failure of the grader, not
        a grade (Result.grader_failed, as `grade --resume` does), so that its submission is graded again; the ids of
        those submissions."""
        with self.session.begin() as s:
            stale = []
            for graded_id, submission_id, stored in s.execute(select(Graded.id, Graded.submission_id,
                                                                     Graded.result_json)):
                try:
                    failed = Result.loads(stored).grader_failed
                except StaleRecord:
                    failed = True
                except ValueError:
                    continue
                if failed:
                    stale.append((graded_id, submission_id))
            if stale:
                s.execute(delete(Graded).where(Graded.id.in_([g for g, _ in stale])))
        return [submission_id for _, submission_id in stale]

    def backlog(self) -> list[tuple[int, str, str]]:
        """(id, student, assignment) of every accepted submission without a result, oldest first (queued at start)."""
        with self.session() as s:
            graded = select(Graded.submission_id)
            rows = s.execute(select(Upload.id, Upload.student_id, Upload.assignment)
                             .where(Upload.id.not_in(graded)).order_by(Upload.id))
            return [(submission_id, student_id, assignment) for submission_id, student_id, assignment in rows]

    def notebook(self, submission_id: int) -> tuple[Upload, bytes]:
        """A submission's row and its notebook's bytes."""
        with self.session() as s:
            upload = s.get_one(Upload, submission_id)
            return upload, upload.notebook

    def save(self, submission_id: int, result: Result, stored: bytes, refused: bool) -> bool:
        """Store the submission's one result; False (nothing written) if it already has one."""
        try:
            with self.session.begin() as s:
                s.add(Graded(submission_id=submission_id, graded_at=time.time(), total=result.total,
                             max_score=sum(r.max_score for r in result.rows), refused=refused,
                             result_json=stored.decode()))
        except IntegrityError:
            return False
        return True

    def stored(self, submission_id: int) -> Stored | None:
        """One submission with its result, or None when there is no such submission."""
        with self.session() as s:
            row = s.execute(select(Upload.id, Upload.student_id, Upload.assignment, Upload.received_at,
                                   Upload.sha256, Upload.late, Graded.result_json, Graded.refused)
                            .outerjoin(Graded, Graded.submission_id == Upload.id)
                            .where(Upload.id == submission_id)).one_or_none()
        return None if row is None else _stored(row)

    def graded(self, assignment: str, student_id: str | None = None) -> list[Stored]:
        """Every graded submission of `assignment` (of one student), oldest first."""
        with self.session() as s:
            query = (select(Upload.id, Upload.student_id, Upload.assignment, Upload.received_at, Upload.sha256,
                            Upload.late, Graded.result_json, Graded.refused)
                     .join(Graded, Graded.submission_id == Upload.id).where(Upload.assignment == assignment))
            if student_id is not None:
                query = query.where(Upload.student_id == student_id)
            rows = s.execute(query.order_by(Upload.id)).all()
        return [_stored(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many submissions and results the database holds."""
        with self.session() as s:
            return {"submissions": s.scalar(select(func.count(Upload.id))) or 0,
                    "results": s.scalar(select(func.count(Graded.id))) or 0}


def _stored(row: Any) -> Stored:
    """A Stored from a joined row."""
    try:
        result = None if row.result_json is None else Result.loads(row.result_json, f"result of submission {row.id}")
    except StaleRecord:  # an older form, regraded at the next start (Store.forget_stale): not graded until then
        result = None
    return Stored(row.id, row.student_id, row.assignment, row.received_at, row.sha256, row.late, result,
                  bool(row.refused))
