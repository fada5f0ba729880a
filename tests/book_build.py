"""Build the book (English and its Chinese edition) from clean into a fresh directory and describe what came out
(shared by book and browser tests)."""

from __future__ import annotations

import dataclasses
import json
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
BUILD_ZH = REPO / "book" / "_ext" / "build_zh.py"
ZH = "zh_CN"  # the Chinese edition's folder below the English site


@dataclass(frozen=True)
class BuiltBook:
    """Where a clean build went, how it ended and how long it took (English, then the Chinese edition)."""

    html: Path
    returncode: int
    log: str
    seconds: float
    zh_returncode: int = 0
    zh_log: str = ""
    zh_seconds: float = 0.0

    @property
    def zh_html(self) -> Path:
        """The Chinese edition, page for page below the English site."""
        return self.html / ZH

    @property
    def zh_sphinx_log(self) -> str:
        """The Chinese sphinx-build's log, as build_zh.py saved it (also for a reused build)."""
        saved = self.html.parent / ZH / "sphinx.log"
        return saved.read_text(encoding="utf-8") if saved.is_file() else ""

    @property
    def reports(self) -> list[Path]:
        """Per-notebook execution failure reports written by myst-nb."""
        folder = self.html / "reports"
        return sorted(folder.glob("*.log")) if folder.is_dir() else []


def build(out: Path, chinese: bool = True) -> BuiltBook:
    """Run `jupyter-book build . -W --keep-going` into `out` (no cache from earlier builds), then the Chinese
    edition from its execution cache, as `make book` does."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # chapters use tiny tensors: one thread each is faster
    started = time.perf_counter()
    proc = subprocess.run(
        [str(JB), "build", str(REPO), "--path-output", str(out), "-W", "--keep-going"],
        capture_output=True, text=True, cwd=REPO, timeout=1800, env=env,
    )
    english = BuiltBook(out / "_build" / "html", proc.returncode, proc.stdout + proc.stderr,
                        time.perf_counter() - started)
    if not chinese or english.returncode != 0:
        return english
    started = time.perf_counter()
    zh = subprocess.run([sys.executable, str(BUILD_ZH), "html", "--build-dir", str(out / "_build")],
                        capture_output=True, text=True, cwd=REPO, timeout=1800, env=env)
    return dataclasses.replace(english, zh_returncode=zh.returncode, zh_log=zh.stdout + zh.stderr,
                               zh_seconds=time.perf_counter() - started)


#: What a build started in the background leaves in its --path-output folder: the BuiltBook's fields, as JSON.
RESULT = "built-book.json"


def start(out: Path) -> subprocess.Popen[bytes]:
    """Build the book into `out` in a process of its own (this file run as a script), so that the suite's other
    tests use the second core meanwhile: the build runs one chapter at a time; `finish` waits for it."""
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "background.log").open("wb")
    with log:  # the child holds its own copy of the descriptor
        return subprocess.Popen([sys.executable, __file__, str(out)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True)


def finish(process: subprocess.Popen[bytes], out: Path) -> BuiltBook:
    """The build `start` began, once it ended (its fields from `out`; its own log when it left none)."""
    process.wait(timeout=3600)
    saved = out / RESULT
    if not saved.is_file():
        log = (out / "background.log").read_text(encoding="utf-8", errors="replace")
        return BuiltBook(out / "_build" / "html", process.returncode or 1, f"the background build failed:\n{log}", 0.0)
    fields = json.loads(saved.read_text(encoding="utf-8"))
    return BuiltBook(**{**fields, "html": Path(fields["html"])})


def prebuilt_or_build(out: Path) -> BuiltBook:
    """The build named by $BOOK_BUILD_DIR (a --path-output folder, for quick reruns), else a clean build into `out`."""
    given = os.environ.get("BOOK_BUILD_DIR")
    if not given:
        return build(out)
    html = Path(given) / "_build" / "html"
    if not (html / "index.html").is_file():
        raise FileNotFoundError(f"BOOK_BUILD_DIR={given}: no built book at {html} (run jupyter-book build "
                                f". --path-output {given}, then python book/_ext/build_zh.py html "
                                f"--build-dir {given}/_build first)")
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


if __name__ == "__main__":  # start(): build into the folder given, and save what came out for finish()
    target = Path(sys.argv[1])
    done = build(target)
    (target / RESULT).write_text(json.dumps({**dataclasses.asdict(done), "html": str(done.html)}), encoding="utf-8")
