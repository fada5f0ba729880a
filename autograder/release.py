"""Regenerate the student notebooks exercises/<id>/<id>.ipynb from the nbgrader sources solutions/<id>/<id>.ipynb.

`python -m autograder release` (or `python -m autograder.release`) runs `nbgrader generate_assignment` with
source = solutions/ and release = exercises/, using a throw-away gradebook so no gradebook.db lands in the
repository, then writes the translated releases exercises/<lang>/<id>/<id>.ipynb (autograder/notebook_i18n.py:
the same cells and nbgrader metadata, markdown from solutions/locale/<lang>/LC_MESSAGES/<id>.po).
`--check` regenerates into a temporary folder and fails when exercises/ is out of sync. Both first refuse a source
whose test cells disagree with the checks (autograder/release_points.py), and every translation is made before
anything is written into exercises/, so a missing one leaves exercises/ as it was.
`--gradebook` registers the assignments and their notebooks in the course gradebook that
autograder/nbgrader_config.py names (exercises/ untouched): what plain `nbgrader autograde` needs on a fresh machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from autograder.notebook_i18n import LANGUAGES, MissingTranslation, release_translations
from autograder.release_points import disagreements

ROOT = Path(__file__).resolve().parent.parent
SOURCE, RELEASE = "solutions", "exercises"


def assignment_ids(root: Path = ROOT) -> list[str]:
    """Every folder solutions/<id>/ that holds <id>.ipynb, sorted."""
    return sorted(p.name for p in (root / SOURCE).iterdir() if (p / f"{p.name}.ipynb").is_file())


def nbgrader_args(root: Path, release_dir: Path, db: Path | str) -> list[str]:
    """CourseDirectory settings shared by release and the tests: root, source and release folders, gradebook (an
    SQLite file, or a database URL given as a str)."""
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    return [f"--CourseDirectory.root={root}", f"--CourseDirectory.source_directory={SOURCE}",
            f"--CourseDirectory.release_directory={release_dir}", f"--db={url}"]


def course_db_url(config: Path = ROOT / "autograder" / "nbgrader_config.py") -> str:
    """The gradebook URL of the instructors' nbgrader config (loading it also creates the gradebook's folder)."""
    from traitlets.config.loader import PyFileConfigLoader

    return str(PyFileConfigLoader(config.name, path=str(config.parent)).load_config().CourseDirectory.db_url)


def nbgrader_env() -> dict[str, str]:
    """The environment for nbgrader subprocesses: this interpreter's bin/ first (nbgrader shells out to
    `alembic`), and the repository on PYTHONPATH so notebooks can import autograder without an install."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p)
    return env


def generate(ids: list[str], release_dir: Path, root: Path = ROOT, db_url: str | None = None) -> None:
    """Run nbgrader generate_assignment for each id into release_dir (absolute); raise on failure. The gradebook
    that records the assignments is a throw-away one unless db_url names one."""
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        for aid in ids:
            cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", aid, "--force",
                   *nbgrader_args(root, release_dir, db_url or Path(tmp) / "gradebook.db")]
            # cwd=tmp: nbgrader writes its log and reads nbgrader_config.py from the working directory
            done = subprocess.run(cmd, cwd=tmp, env=nbgrader_env(), capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"nbgrader generate_assignment {aid} failed (exit {done.returncode}):\n"
                                   f"{done.stdout[-2000:]}{done.stderr[-2000:]}")


def normalized(path: Path) -> dict[str, Any]:
    """A notebook as JSON with outputs and execution counts dropped, for comparisons."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return nb


def out_of_sync(ids: list[str], root: Path = ROOT) -> list[str]:
    """Ids whose checked-in release differs from a fresh one (or is missing)."""
    with tempfile.TemporaryDirectory(prefix="course-release-check-") as tmp:
        fresh = Path(tmp) / RELEASE
        generate(ids, fresh, root)
        release_translations(ids, fresh, fresh, root)
        stale = []
        for name in [*ids, *(f"{lang}/{aid}" for lang in LANGUAGES for aid in ids)]:
            aid = name.rsplit("/", 1)[-1]
            mine, new = root / RELEASE / name / f"{aid}.ipynb", fresh / name / f"{aid}.ipynb"
            if not mine.is_file() or normalized(mine) != normalized(new):
                stale.append(name)
        return stale


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    """Command line: regenerate exercises/ (default), with --check only report whether it is in sync, with
    --gradebook register the assignments in the course gradebook."""
    parser = argparse.ArgumentParser(prog="python -m autograder release", description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="assignment ids (default: every folder in solutions/)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if exercises/ is out of sync; change nothing")
    mode.add_argument("--gradebook", action="store_true",
                      help="register the assignments and notebooks in the gradebook of autograder/nbgrader_config.py "
                           "(for plain `nbgrader autograde`); exercises/ is left as it is")
    args = parser.parse_args(argv)
    known = assignment_ids(root)
    unknown = sorted(set(args.ids) - set(known))
    if unknown:
        print(f"release: unknown assignment(s) {unknown}; known: {known}", file=sys.stderr)
        return 2
    ids = args.ids or known
    problems = [line for aid in ids for line in disagreements(aid, root)]
    for line in problems:
        print(f"release: {line}", file=sys.stderr)
    if problems:
        return 1
    try:
        if args.gradebook:
            return _register(ids, root)
        return _run(ids, args.check, root)
    except (MissingTranslation, RuntimeError) as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1


def _register(ids: list[str], root: Path) -> int:
    """nbgrader generate_assignment into a throw-away folder, recording into the course gradebook."""
    db_url = course_db_url()
    with tempfile.TemporaryDirectory(prefix="course-register-") as tmp:
        generate(ids, Path(tmp), root, db_url)
    print(f"registered {ids} in the gradebook {db_url}")
    return 0


def _run(ids: list[str], check: bool, root: Path) -> int:
    """Check or write the English and translated releases of ids."""
    if check:
        stale = out_of_sync(ids, root)
        if stale:
            print(f"exercises/ is out of sync for {stale}: run `python -m autograder release`", file=sys.stderr)
            return 1
        print(f"exercises/ is in sync with solutions/ for {ids}")
        return 0
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        english, translated = Path(tmp) / "en", Path(tmp) / "translated"
        generate(ids, english, root)
        # every translation is made (or found missing) before anything is written into exercises/
        translations = release_translations(ids, english, translated, root)
        for aid in ids:  # replace each release folder whole, so files deleted from solutions/ go too
            target = root / RELEASE / aid
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(english / aid, target)
            print(f"released {RELEASE}/{aid}/{aid}.ipynb")
        for path in translations:  # same cells, translated markdown
            target = root / RELEASE / path.relative_to(translated)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            print(f"released {target.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
