"""drivers/cluster/node on its own (no Dask cluster, no sandbox): what a Dask worker's plugin decides.

The cluster tests run it end to end; these pin the node's own rules: the environment fingerprint, the
probe, what travels when the plugin is pickled, refusing a worker whose environment differs, slots
reused, a grader bug turned into a result, and nothing left behind after teardown.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from autograder.checks.messages import text
from autograder.grading.core import pool, sandbox
from autograder.grading.core.model import UNSANDBOXED, Result, Row, Submission
from autograder.grading.drivers.cluster import node
from autograder.message import say
from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
from fakecourse import notebooks

CHECKS = "fakecourse.checks:get_assignment"


def _batch(**changes: Any) -> dict[str, Any]:
    """The plain batch description the instructor's process registers (as cluster.grade_on_cluster builds it)."""
    batch = {"checks": CHECKS, "assignment_id": "fake", "source": json.dumps(notebooks.source_notebook()).encode(),
             "seed": 7, "sandbox": "none", "environment": node.environment(CHECKS), "probed": [],
             "limits": {"timeout": 5.0, "memory_mb": 256, "output_bytes": 4096}}
    return {**batch, **changes}


def _node(tmp_path: Path, **changes: Any) -> node.GradingNode:
    """A plugin set up on a fake Dask worker whose scratch folder is under tmp_path."""
    plugin = pickle.loads(pickle.dumps(node.GradingNode(_batch(**changes))))  # as Dask ships it
    (tmp_path / "scratch").mkdir(exist_ok=True)
    plugin.setup(SimpleNamespace(address="tcp://10.0.0.9:4242", local_directory=str(tmp_path / "scratch")))
    return plugin


def _sub(student: str = "alice") -> dict[str, Any]:
    return Submission(student, "upload", json.dumps(notebooks.submission()).encode()).to_plain()


def test_tree_hash_follows_every_python_file(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "notes.txt").write_text("ignored")
    first = node._tree_hash(tmp_path / "pkg")
    (tmp_path / "pkg" / "notes.txt").write_text("changed")
    assert node._tree_hash(tmp_path / "pkg") == first  # only .py files count
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    assert node._tree_hash(tmp_path / "pkg") != first and len(first) == 16


def test_environment_and_probe() -> None:
    env = node.environment(CHECKS)
    assert set(env) == {"python", "torch", "autograder source", "checks source"}
    assert env == node.environment(CHECKS)
    assert "error" in node.probe(CHECKS, "no-such-assignment")
    probed = node.probe(CHECKS, "fake")
    assert probed["environment"] == env and isinstance(probed["bwrap"], bool)


def test_only_the_plain_batch_travels(tmp_path: Path) -> None:
    plugin = node.GradingNode(_batch())
    assert plugin.__getstate__() == {"batch": plugin.batch}
    again = pickle.loads(pickle.dumps(plugin))
    assert again.batch == plugin.batch and again.state is None and again.address == ""


def test_a_worker_whose_environment_differs_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = {**node.environment(CHECKS), "torch": "0.0.1"}
    plugin = _node(tmp_path, environment=other)
    monkeypatch.setattr(pool, "grade_submission", lambda *a, **k: pytest.fail("graded on a different worker"))
    reply = plugin.grade(_sub())
    assert reply == {"refused": "worker tcp://10.0.0.9:4242 differs from the instructor's machine in torch"}
    probed = _node(tmp_path, environment=other, probed=["tcp://10.0.0.9:4242"])  # checked by the probe already
    monkeypatch.setattr(pool, "grade_submission", _fake_grade)
    assert "refused" not in probed.grade(_sub())


@pytest.mark.parametrize("mode", ["auto", "bwrap"])
def test_a_worker_without_bubblewrap_grades_nobody_unless_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              mode: str) -> None:
    """A Dask worker that joined after the probe and cannot run bubblewrap grades no one, with the default `auto` too:
    student code without a sandbox there could reach the scheduler, which runs code on every worker. Only an explicit
    `--sandbox none` grades there without one."""
    monkeypatch.setattr(sandbox, "bwrap_usable", lambda: False)
    monkeypatch.setattr(pool, "grade_submission", lambda *a, **k: pytest.fail("graded without a sandbox"))
    with pytest.raises(RuntimeError, match="only --sandbox none grades without it"):
        _node(tmp_path, sandbox=mode).grade(_sub())
    monkeypatch.setattr(pool, "grade_submission", _fake_grade)
    assert "refused" not in _node(tmp_path, sandbox="none").grade(_sub())


def _fake_grade(sub: Submission, assignment: Any, source: Any, seed: int, run: Any, exchange: Path,
                limits: Any) -> Result:
    """grade_submission without a sandbox: records what the node handed it."""
    assert exchange.parent.name.startswith("grading-node-") and seed == 7 and limits.timeout == 5.0
    row = Row(sub.student_id, "fake", "fake.ipynb", "test_scale", 1.0, 1.0, "passed",
              say("upload.problem", reason="ok"))
    return Result(sub.student_id, "fake", "fake.ipynb", sub.origin, False, seed, (), {}, 0.1, (row,))


def test_results_name_the_worker_and_sandbox_and_slots_are_reused(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "grade_submission", _fake_grade)
    plugin = _node(tmp_path)
    first = Result.from_json(plugin.grade(_sub("alice")))
    second = Result.from_json(plugin.grade(_sub("bob")))
    assert first.worker == second.worker == "tcp://10.0.0.9:4242"
    assert first.sandbox == UNSANDBOXED  # --sandbox none on this worker
    assert plugin.state is not None and [s.index for s in plugin.state.pool._idle] == [0]  # one slot, reused
    assert plugin.state.tmp.parent == tmp_path / "scratch"  # inside the Dask worker's own scratch space


def test_a_grader_bug_becomes_an_internal_error_not_a_lost_student(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Result:
        raise KeyError("oops")

    monkeypatch.setattr(pool, "grade_submission", broken)
    plugin = _node(tmp_path)
    result = Result.from_json(plugin.grade(_sub()))  # the core's internal-error row, never a lost student
    assert {row.status for row in result.rows} == {"error"} and "KeyError" in text(result.rows[0].message)
    assert result.worker == "tcp://10.0.0.9:4242"
    assert plugin.state is not None and len(plugin.state.pool._idle) == 1  # the slot is returned for the next student


def test_teardown_stops_workers_and_wipes_the_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "grade_submission", _fake_grade)
    plugin = _node(tmp_path)
    plugin.grade(_sub())
    assert plugin.state is not None
    tmp, stopped = plugin.state.tmp, []
    plugin.state.pool._idle[0].worker = SimpleNamespace(  # type: ignore[assignment]
        stop=lambda: stopped.append(1), process=SimpleNamespace(poll=lambda: -9))  # a worker that died
    plugin.teardown(None)
    assert plugin.state is None and not tmp.exists() and stopped == [1] and not node._WARM


def _running(stopped: list[str], name: str) -> Any:
    """A stand-in for a live sandboxed worker: stop() records its name."""
    return SimpleNamespace(stop=lambda: stopped.append(name), process=SimpleNamespace(poll=lambda: None))


def test_idle_workers_stay_warm_for_the_next_batch_of_the_same_kind(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's idle worker outlives the batch (a start costs ~1.5 s) and the next batch of the same checks,
    assignment, sandbox and environment grades with it; a batch of another kind stops it, and its folder goes."""
    monkeypatch.setattr(pool, "grade_submission", _fake_grade)
    stopped: list[str] = []
    first = _node(tmp_path)
    first.grade(_sub())
    assert first.state is not None
    tmp = first.state.tmp
    first.state.pool._idle[0].worker = _running(stopped, "warm")
    first.teardown(None)
    assert stopped == [] and tmp.exists() and len(node._WARM) == 1  # kept, with its folder
    second = _node(tmp_path)
    second.grade(_sub("bob"))
    assert second.state is not None and second.state.tmp == tmp and not node._WARM
    assert second.state.pool._idle[0].worker is not None and stopped == []  # adopted, not restarted
    second.teardown(None)
    real = node.environment(CHECKS)
    monkeypatch.setattr(node, "environment", lambda checks: {**real, "autograder source": "edited since"})
    other = _node(tmp_path, probed=["tcp://10.0.0.9:4242"])  # the checkout changed: another kind of batch
    other.grade(_sub("cat"))
    assert other.state is not None and other.state.tmp != tmp
    other.teardown(None)  # nothing of its own to keep: the kept one is stopped and its folder removed
    assert stopped == ["warm"] and not tmp.exists() and not node._WARM


def test_a_batch_torn_down_mid_task_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = _node(tmp_path)

    def torn(sub: Submission, *args: Any) -> Result:
        plugin.teardown(None)  # the plugin is removed (Ctrl-C on the instructor's side) while this task runs
        return _fake_grade(sub, *args)

    monkeypatch.setattr(pool, "grade_submission", torn)
    plugin.grade(_sub())
    assert plugin.state is None and list((tmp_path / "scratch").iterdir()) == []
