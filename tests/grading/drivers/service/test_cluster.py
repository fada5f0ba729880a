"""`autograder serve --scheduler`: the service grades on a Dask cluster through the same plugin as a batch, and
its rows are the local batch grader's for the same notebooks. About 40 s (a local cluster of one worker)."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.checks.messages import text
from autograder.grading.drivers import pipeline
from tests.sandbox_required import sandbox_marks
from tests.serve_helpers import CORPUS, REPO, issue_tokens, start, submit

distributed = pytest.importorskip("distributed")  # the `cluster` extra; pinned in requirements.txt
sys.path.insert(0, str(CORPUS))
from fakecourse import notebooks  # noqa: E402

pytestmark = sandbox_marks("the grading service on a Dask cluster")

COHORT = {
    "honest": json.dumps(notebooks.submission()).encode(),
    "wrong": json.dumps(notebooks.submission({"ans_scale": "def scale(x, a):\n    return x\n"})).encode(),
    "exits": json.dumps(notebooks.submission({"ans_norm2": "import os\nos._exit(3)\n"})).encode(),
    "truncated": json.dumps(notebooks.submission()).encode()[:200],
}


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler and one single-threaded worker process on loopback, the fake course importable there."""
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", "TMPDIR")}
    os.environ.update(PYTHONPATH=os.pathsep.join([str(REPO), str(CORPUS)]), TMPDIR=str(tmp_path_factory.mktemp("n")))
    try:
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address="127.0.0.1:0", memory_limit=0) as running:
            yield running.scheduler_address
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_service_on_a_cluster_gives_the_batch_rows(scheduler: str, tmp_path: Path) -> None:
    source = notebooks.write(notebooks.source_notebook(), tmp_path / "fake.ipynb")
    for student, data in COHORT.items():
        notebooks.write(data, tmp_path / "subs" / student / "fake" / "fake.ipynb")
    db = tmp_path / "serve.db"
    tokens = issue_tokens(tmp_path, db, list(COHORT))
    service = start(tmp_path, db, source, "--scheduler", scheduler, "--timeout", "5", "--wait", "300")
    try:
        replies = {student: submit(service.url, tokens[student], data) for student, data in COHORT.items()}
    finally:
        service.stop()
    settings = pipeline.Settings(submissions=tmp_path / "subs", assignment_id="fake", out=tmp_path / "batch",
                                 checks="fakecourse.checks:get_assignment", source=source)
    batch = pipeline.grade(settings, io.StringIO())
    for student, (status, reply) in replies.items():
        assert status == (422 if student == "truncated" else 200), reply
        assert [(r["grade_id"], r["score"], r["status"], r["message"]) for r in reply["rows"]] == [
            (r.grade_id, r.score, r.status, text(r.message)) for r in batch[student].rows], student
    assert replies["honest"][1]["score"] == 5.0 and replies["wrong"][1]["score"] == 4.0
