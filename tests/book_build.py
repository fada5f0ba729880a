"""Build the book from clean into a fresh directory and describe what came out (shared by book and browser tests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
JB = Path(sys.executable).with_name("jupyter-book")


@dataclass(frozen=True)
class BuiltBook:
    """Where a clean build went, how it ended and how long it took."""

    html: Path
    returncode: int
    log: str
    seconds: float

    @property
    def reports(self) -> list[Path]:
        """Per-notebook execution failure reports written by myst-nb."""
        folder = self.html / "reports"
        return sorted(folder.glob("*.log")) if folder.is_dir() else []


def build(out: Path) -> BuiltBook:
    """Run `jupyter-book build . -W --keep-going` into `out` (no cache from earlier builds), as `make book` does."""
    started = time.perf_counter()
    proc = subprocess.run(
        [str(JB), "build", str(REPO), "--path-output", str(out), "-W", "--keep-going"],
        capture_output=True, text=True, cwd=REPO, timeout=1800,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # chapters use tiny tensors: one thread each is faster
    )
    return BuiltBook(out / "_build" / "html", proc.returncode, proc.stdout + proc.stderr,
                     time.perf_counter() - started)


def prebuilt_or_build(out: Path) -> BuiltBook:
    """The build named by $BOOK_BUILD_DIR (a --path-output folder, for quick reruns), else a clean build into `out`."""
    given = os.environ.get("BOOK_BUILD_DIR")
    if not given:
        return build(out)
    html = Path(given) / "_build" / "html"
    if not (html / "index.html").is_file():
        raise FileNotFoundError(f"BOOK_BUILD_DIR={given}: no built book at {html} (run jupyter-book build "
                                f". --path-output {given} first)")
    return BuiltBook(html, 0, f"prebuilt book reused from {given}", 0.0)


def toc_files() -> list[str]:
    """Every file named in _toc.yml (root, chapters, sections), without suffix."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    found = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc.get("parts", toc.get("chapters", [])))
    return found


EXTERNAL_SCRIPT = re.compile(r"<script[^>]+src=[\"'](?:https?:)?//", re.IGNORECASE)
EXTERNAL_LINK_ASSET = re.compile(r"<link[^>]+href=[\"'](?:https?:)?//[^\"']+\.(?:css|js|woff2?)", re.IGNORECASE)
