"""The Python side of book/_ext/math_render.js: one Node process per build that typesets TeX into CommonHTML."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_suffix(".js")
ROOT = Path(__file__).resolve().parents[2]
MATHJAX = ROOT / "node_modules" / "mathjax-full"  # pinned in package.json / package-lock.json
FONTS = MATHJAX / "es5" / "output" / "chtml" / "fonts" / "woff-v2"  # the web fonts the CommonHTML needs
SETUP = "run `make book` (it installs the pinned MathJax with `npm ci`), or `npm ci` in the repository root"

Formula = tuple[str, bool]  # (TeX, display)


class MathRendererError(RuntimeError):
    """The renderer cannot start or stopped answering (the message says what to do)."""


class TexError(ValueError):
    """MathJax could not read a formula (the message is MathJax's, e.g. "Undefined control sequence \\foo")."""


class MathRenderer:
    """A running `node math_render.js`: render(tex, display, page) -> HTML; stylesheet(formulas, fonts) -> CSS."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise MathRendererError(f"Node.js is needed to typeset the book's formulas: install it (Debian: "
                                    f"apt-get install nodejs npm), then {SETUP}")
        if not MATHJAX.is_dir():
            raise MathRendererError(f"MathJax is not installed at {MATHJAX}: {SETUP}")
        self._process = subprocess.Popen([node, str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, encoding="utf-8", cwd=ROOT)

    def _ask(self, request: dict[str, Any]) -> dict[str, str]:
        """Send one request line and read its one answer line."""
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None  # both are pipes (see __init__)
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            line = stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise MathRendererError(f"{SCRIPT.name} stopped (exit status {self._process.poll()}); its error is "
                                    f"above. If it cannot find MathJax: {SETUP}")
        answer: dict[str, str] = json.loads(line)
        return answer

    def render(self, tex: str, display: bool, page: str) -> str:
        """The CommonHTML of one formula of `page` (equation numbers restart on each page); TexError if unreadable."""
        answer = self._ask({"tex": tex, "display": display, "page": page})
        if "error" in answer:
            raise TexError(answer["error"])
        return answer["html"]

    def stylesheet(self, formulas: list[Formula], fonts: str) -> str:
        """The minified CSS those formulas need (their glyphs only), finding the web fonts at the URL `fonts`."""
        return self._ask({"css": fonts, "formulas": formulas})["css"]

    def close(self) -> None:
        """End the Node process."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)
        if self._process.stdout is not None:
            self._process.stdout.close()
