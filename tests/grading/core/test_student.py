"""student.grade_submission: what the container or the notebook gets wrong is decided before the sandbox."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.paths import CORPUS

sys.path.insert(0, str(CORPUS))
import containers
from fakecourse import checks, notebooks

from autograder.checks.forbidden import scan, scan_prefixes
from autograder.checks.messages import text
from autograder.grading.core import student
from autograder.grading.core.model import Result, Submission
from autograder.grading.core.student import grade_submission
from autograder.grading.inbox.collect import collect
from autograder.grading.inbox.notebook import parse
from autograder.grading.inbox.sanitize import plan
from autograder.grading.runner import limits
from autograder.grading.runner.protocol import MAX_MESSAGE_BYTES
from autograder.grading.runner.wire import Job, Limits, Reply

SOURCE = parse(json.dumps(notebooks.source_notebook()).encode())


def _never(job: Job) -> Reply:
    """A runner that fails the test: nothing may be sent to the sandbox."""
    raise AssertionError(f"sent to the sandbox: {len(json.dumps(job.to_json()))} bytes")


def _grade(sub: Submission, tmp_path: Path) -> Result:
    """Grade with a runner that must not be called."""
    return grade_submission(sub, checks.ASSIGNMENT, SOURCE, 1, _never, tmp_path, Limits())


@pytest.mark.parametrize("raw,word", [
    (containers.tiny_cells(), "JSON values"),
    (containers.many_cells(), f"more than the {limits.CELLS}"),
    (containers.huge_code(), f"more than the {limits.CODE_BYTES}"),
])
def test_oversized_notebooks_never_reach_the_sandbox(tmp_path: Path, raw: bytes, word: str) -> None:
    """Too many values, too many cells or too much code: malformed rows naming the limit, no job sent."""
    result = _grade(Submission("ann", "x", raw), tmp_path)
    assert {r.status for r in result.rows} == {"malformed"}
    assert all(word in text(r.message) for r in result.rows)


def test_the_code_cap_fits_the_protocol() -> None:
    """A job at the code cap fits in one protocol message, with room for the rest of the job."""
    assert limits.CODE_BYTES <= MAX_MESSAGE_BYTES // 2


def test_unreadable_files_are_the_students_malformed_rows(tmp_path: Path) -> None:
    """A link in place of the notebook is found when it is read: malformed, the reason in every row."""
    subs = tmp_path / "subs"
    (subs / "ann" / "fake").mkdir(parents=True)
    (subs / "ann" / "fake" / "fake.ipynb").write_bytes(b"{}")
    (sub,) = collect(subs, "fake", "fake.ipynb")
    (subs / "ann" / "fake" / "fake.ipynb").unlink()
    (subs / "ann" / "fake" / "fake.ipynb").symlink_to(tmp_path / "solutions.ipynb")
    result = _grade(sub, tmp_path)
    assert {r.status for r in result.rows} == {"malformed"}
    assert "symbolic link" in text(result.rows[0].message)


def test_the_collectors_status_and_reason_are_kept(tmp_path: Path) -> None:
    """A submission with nothing to grade keeps the status collect() decided (malformed) or 'missing'."""
    bad = _grade(Submission("ann", "x", None, problem="fake.ipynb is a FIFO", status="malformed"), tmp_path)
    none = _grade(Submission("bo", "x", None, problem="no notebook submitted"), tmp_path)
    assert {r.status for r in bad.rows} == {"malformed"} and "FIFO" in text(bad.rows[0].message)
    assert {r.status for r in none.rows} == {"missing"}


def test_notes_and_origin_are_capped(tmp_path: Path) -> None:
    """Thousands of edited read-only cells or odd cells leave at most NOTES notes; a long origin is cut."""
    nb = notebooks.submission()
    nb["cells"] += [{"cell_type": "code", "metadata": {"nbgrader": {"grade_id": f"g{i}"}}, "source": 1}
                    for i in range(3000)]
    result = grade_submission(Submission("ann", "o" * 10_000, json.dumps(nb).encode()), checks.ASSIGNMENT,
                              SOURCE, 1, lambda job: Reply.failed(job.job, "no sandbox"),
                              tmp_path, Limits())
    assert len(result.notes) <= limits.NOTES + 1 and len(result.origin) <= limits.ORIGIN_CHARS


def _with_cell_after(nb: dict, grade_id: str, source: str) -> dict:
    """`nb` with a student's own code cell inserted right after the cell `grade_id`."""
    index = next(i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    nb["cells"].insert(index + 1, {"cell_type": "code", "metadata": {}, "source": source, "outputs": []})
    return nb


def test_the_forbidden_scan_reads_each_function_where_its_test_cell_stands() -> None:
    """As nbgrader's in-kernel check sees it: a forbidden square_grad pasted after its test cell is not the one
    graded; a forbidden norm2 replaced by an honest one after norm2's test cell is (its helper counts too)."""
    autograd = ("def square_grad(x):\n    x = x.clone().requires_grad_()\n"
                "    return torch.autograd.grad((x * x).sum(), x)[0]\n")
    cheat = "def norm2(x):\n    return _via_grad(x)\n\ndef _via_grad(x):\n    return torch.autograd.grad(x, x)\n"
    nb = _with_cell_after(notebooks.submission({"ans_norm2": cheat}), "test_square_grad", autograd)
    nb = _with_cell_after(nb, "test_norm2", notebooks.SOLUTIONS["ans_norm2"])
    built = plan(parse(json.dumps(nb).encode()), SOURCE, checks.ASSIGNMENT)
    verdicts = student._forbidden(checks.ASSIGNMENT, built)
    assert set(verdicts) == {"test_norm2"} and verdicts["test_norm2"].status == "forbidden"
    assert "torch.autograd" in text(verdicts["test_norm2"].message)


def test_scan_prefixes_is_the_scan_of_each_prefix() -> None:
    """One parse per cell, the same hits as scanning each prefix on its own: the last definition before wins, and an
    import a later cell changes is read anew."""
    cells = ["import torch.autograd as ag\n", "def f(x):\n    return ag.grad(x, x)\n", "def g(x):\n    return f(x)\n",
             "def (", "import math as ag\n", "def f(x):\n    return ag.grad(x, x) + torch.autograd.grad(x, x)\n",
             "def f(x):\n    return x\n"]
    names, shortcuts = ["f", "g"], ["torch.autograd"]
    got = scan_prefixes(cells, [0, 3, 5, 6, 7, 3], names, shortcuts)
    assert got == {n: scan(cells[:n], names, shortcuts) for n in (0, 3, 5, 6, 7)}
    assert got[3] == {"f": ["torch.autograd"], "g": ["torch.autograd"]} and got[5] == {"f": [], "g": []}
    assert got[6]["g"] == ["torch.autograd"] and got[7] == {"f": [], "g": []}


@pytest.mark.parametrize("damage", ["a middle lost", "not utf-8", "too many cells"])
def test_an_unreadable_chinese_notebook_is_refused_in_chinese(tmp_path: Path, damage: str) -> None:
    """The bytes no longer parse, but still name the notebook's language: its feedback says why in Chinese."""
    nb = notebooks.submission({})
    nb["metadata"]["autograder"] = {"language": "zh_CN"}
    if damage == "too many cells":
        nb["cells"] += [{"cell_type": "raw", "metadata": {}, "source": ""}] * (limits.CELLS + 1)
    raw = json.dumps(nb, indent=1).encode()
    raw = {"a middle lost": raw[:len(raw) // 2] + raw[-120:], "not utf-8": b"\xff" + raw}.get(damage, raw)
    result = _grade(Submission("ann", "x", raw), tmp_path)
    assert {r.status for r in result.rows} == {"malformed"} and result.language == "zh_CN", result.rows[0]
    english = json.dumps(notebooks.submission({}), indent=1).encode()
    assert _grade(Submission("bo", "x", english[:len(english) // 2]), tmp_path).language is None
