"""The released notebooks: in sync with solutions/, free of solutions and hidden tests, and lesson-shaped."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from autograder.release import assignment_ids, main, out_of_sync

ROOT = Path(__file__).resolve().parent.parent
IDS = assignment_ids()


def _release(aid: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "exercises" / aid / f"{aid}.ipynb", as_version=4)


def _solution_lines(aid: str) -> set[str]:
    """Non-trivial lines inside the source's solution regions that appear nowhere else in the source."""
    pattern = r"### BEGIN SOLUTION\n(.*?)### END SOLUTION"
    inside: set[str] = set()
    outside: set[str] = set()
    for cell in nbformat.read(ROOT / "solutions" / aid / f"{aid}.ipynb", as_version=4).cells:
        for region in re.findall(pattern, cell.source, flags=re.S):
            inside.update(s.strip() for s in region.splitlines()
                          if len(s.strip()) > 12 and not s.strip().startswith("#"))
        outside.update(s.strip() for s in re.sub(pattern, "", cell.source, flags=re.S).splitlines())
    return inside - outside


@pytest.mark.parametrize("aid", IDS)
def test_release_holds_no_solution_and_no_hidden_test(aid: str) -> None:
    text = "\n".join(c.source for c in _release(aid).cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "grade(", "import grade"):
        assert marker not in text
    leaked = sorted(s for s in _solution_lines(aid) if s in text)
    assert not leaked, f"exercises/{aid}: solution lines leaked: {leaked[:3]}"


@pytest.mark.parametrize("aid", IDS)
def test_release_has_stubs_and_no_outputs(aid: str) -> None:
    nb = _release(aid)
    solution_cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    code_stubs = [c for c in solution_cells if c.cell_type == "code"]
    assert code_stubs and all("raise NotImplementedError()" in c.source for c in code_stubs)
    assert all(c.source.strip().endswith("YOUR ANSWER HERE") for c in solution_cells if c.cell_type == "markdown")
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("aid", IDS)
def test_release_markdown_is_clean_myst(aid: str) -> None:
    """One H1 first, no skipped heading levels (Jupyter Book -W warns on both), links only to built pages."""
    levels = [len(m) for c in _release(aid).cells if c.cell_type == "markdown"
              for m in re.findall(r"^(#+) ", c.source, flags=re.M)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))
    shown = [c for c in _release(aid).cells if c.cell_type == "markdown" and "remove-cell" not in c.metadata.get(
        "tags", [])]
    text = "\n".join(c.source for c in shown)
    assert "href=" not in text, "links to the built book work from Jupyter only: keep them in a remove-cell cell"
    for cell in _release(aid).cells:
        for page, label in re.findall(r'href="/course-book/book/([a-z_]+)\.html#([a-z0-9-]+)"', cell.source):
            assert f"({label})=" in (ROOT / "book" / f"{page}.md").read_text(encoding="utf-8")
    assert "](" not in text and "{cite}" not in text  # no markdown links or roles that can break the build


def test_unknown_assignment_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-assignment"]) == 2
    assert "known" in capsys.readouterr().err


@pytest.mark.slow
def test_exercises_are_in_sync_with_solutions() -> None:
    assert out_of_sync(IDS) == [], "run `python -m autograder release` and commit exercises/"


def test_instructor_config_agrees_with_release() -> None:
    from traitlets.config.loader import PyFileConfigLoader

    from autograder.release import RELEASE, SOURCE

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "autograder")).load_config()
    assert config.CourseDirectory.root == str(ROOT)
    assert (config.CourseDirectory.source_directory, config.CourseDirectory.release_directory) == (SOURCE, RELEASE)
    assert not config.CourseDirectory.db_url.removeprefix("sqlite:///").startswith(str(ROOT))


def _course(tmp_path: Path, *folders: str) -> Path:
    """A copy of the repository's solutions/ (with its catalogs) and the named other folders, to release into."""
    import shutil

    for folder in ("solutions", *folders):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def _set_meta(root: Path, aid: str, cell_id: str, **meta: object) -> None:
    """Change the nbgrader metadata of the cell with grade_id cell_id in solutions/<aid>/<aid>.ipynb."""
    path = root / "solutions" / aid / f"{aid}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == cell_id)
    cell.metadata["nbgrader"].update(meta)
    nbformat.write(nb, path)


@pytest.mark.parametrize("aid", IDS)
def test_test_cells_agree_with_the_checks(aid: str) -> None:
    from autograder.release_points import disagreements

    assert disagreements(aid, ROOT) == []


@pytest.mark.parametrize("check", [[], ["--check"]])
def test_points_that_differ_from_the_checks_stop_the_release(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], check: list[str]) -> None:
    """Plain nbgrader grades out of the cell's points, `autograder grade` out of the checks': both must agree."""
    root = _course(tmp_path)
    _set_meta(root, "optimizers", "adamw_step", points=4)
    assert main(["optimizers", *check], root=root) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["release: solutions/optimizers/optimizers.ipynb: test cell 'adamw_step' has nbgrader points 4, "
                     "the checks give 3 (get_assignment('optimizers').question('adamw_step').points): make them equal"]
    assert not (root / "exercises").exists()  # nothing released


def test_a_test_cell_that_is_no_question_stops_the_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _course(tmp_path)
    _set_meta(root, "clipping", "grad_norm", grade_id="grad_norm_2")
    assert main(["clipping"], root=root) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("release: solutions/clipping/clipping.ipynb: ") for line in err)
    assert "test cell 'grad_norm_2' is not a question of the checks" in err[0]
    assert "question 'grad_norm' of the checks has no test cell" in err[1]
    assert not (root / "exercises").exists()


@pytest.mark.slow
def test_a_missing_translation_leaves_exercises_as_it_was(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every catalog is checked before anything is written: no English release without its Chinese one."""
    root = _course(tmp_path, "exercises")
    path = root / "solutions" / "clipping" / "clipping.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("A paragraph nobody translated."))
    nbformat.write(nb, path)
    before = {p: p.read_bytes() for p in (root / "exercises").rglob("*") if p.is_file()}
    assert main(["clipping"], root=root) == 1
    err = capsys.readouterr().err
    assert "solutions/locale/zh_CN/LC_MESSAGES/clipping.po: 1 message(s) without a translation" in err
    assert "nobody translated" in err
    assert {p: p.read_bytes() for p in (root / "exercises").rglob("*") if p.is_file()} == before
