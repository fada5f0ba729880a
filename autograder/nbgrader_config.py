"""nbgrader settings for instructors working by hand on this repository (not imported by the package).

Use:  nbgrader <command> <assignment> --JupyterApp.config_file=autograder/nbgrader_config.py
Sources live in solutions/, releases in exercises/ (regenerate them with `python -m autograder release`);
the gradebook is kept outside the repository so student data is never committed.
Loading this file puts the running interpreter's bin/ first on PATH: nbgrader shells out to `alembic` when it
opens a gradebook, so `.venv/bin/nbgrader ...` works without an activated virtual environment.
"""

import os
import sys
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # traitlets injects get_config when nbgrader loads this file

BIN = str(Path(sys.executable).parent)
PATH = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]  # no empty entry: it would mean the cwd
if PATH[:1] != [BIN]:
    os.environ["PATH"] = os.pathsep.join([BIN, *PATH])

ROOT = Path(__file__).resolve().parent.parent
GRADEBOOK = Path.home() / ".local" / "share" / "taming-exploding-gradients" / "gradebook.db"
GRADEBOOK.parent.mkdir(parents=True, exist_ok=True)

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = f"sqlite:///{GRADEBOOK}"
# the capstone trains a small RNN inside its test cell: allow more than nbgrader's default per cell
c.ExecutePreprocessor.timeout = 180
# a Chinese submission's locked cells come back from the source in Chinese, not in the source's English (the feedback
# page reads Chinese; the checks in nbgrader's kernel keep the notebook's language): autograder/nbgrader_language.py
# A copied cell is the student's own and a duplicated test cell costs its question, as in the batch grader; plain
# DeduplicateIds + CheckCellMetadata stopped the whole autograde instead: autograder/nbgrader_copies.py
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "autograder.nbgrader_copies.CountCopies",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "autograder.nbgrader_language.OverwriteCellsInLanguage",
    "autograder.nbgrader_copies.SettleCopies",
    "nbgrader.preprocessors.CheckCellMetadata",
]
