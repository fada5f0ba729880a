"""The adversarial corpus (GUIDE §3): one submission per threat, and the rows each must produce.

`CASES` maps a student id to (builder, expected statuses per grade_id). A builder gets the run's
paths (submissions folder, output folder, source notebook, a secret file) so that attacks can aim
at real files; it returns a notebook dict or raw bytes (None = no notebook at all).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

from fakecourse.notebooks import SOLUTIONS, submission

PASS = {"test_scale": "passed", "test_norm2": "passed", "test_square_grad": "passed"}
GOOD_SCALE = "    return a * x\n"


def _scale(body: str, prelude: str = "") -> dict[str, str]:
    """Answers where scale() runs `body` (indented code) before returning a * x."""
    return {"ans_scale": prelude + "def scale(x, a):\n" + body + GOOD_SCALE}


def _mutate(fn: Callable[[list[dict[str, Any]]], None]) -> Callable[[dict[str, str]], dict[str, Any]]:
    """A builder that applies `fn` to the cells of an honest submission."""
    def build(paths: dict[str, str]) -> dict[str, Any]:
        nb = submission()
        fn(nb["cells"])
        return nb
    return build


def _index(cells: list[dict[str, Any]], grade_id: str) -> int:
    """Position of the cell with this grade_id."""
    return next(i for i, c in enumerate(cells) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def _v3(paths: dict[str, str]) -> dict[str, Any]:
    """The honest notebook downgraded to nbformat 3 by nbformat itself."""
    import nbformat

    return json.loads(nbformat.writes(nbformat.convert(nbformat.from_dict(submission()), 3)))


def _other_assignment(paths: dict[str, str]) -> dict[str, Any]:
    """A notebook whose nbgrader cells belong to a different assignment."""
    nb = submission()
    for cell in nb["cells"]:
        if "nbgrader" in cell["metadata"]:
            cell["metadata"]["nbgrader"]["grade_id"] = "other_" + cell["metadata"]["nbgrader"]["grade_id"]
    return nb


ESCAPE = """    import os, pathlib
    hits = []
    for target in {targets}:
        try:
            pathlib.Path(target).read_bytes()
            hits.append('read ' + target)
        except Exception:
            pass
        try:
            with open(target, 'ab') as f:
                f.write(b'pwned')
            hits.append('wrote ' + target)
        except Exception:
            pass
    if hits:
        return -a * x
"""
DETECT = """    import os, socket, sys
    seen = ' '.join([*os.environ.keys(), *os.environ.values(), os.getcwd(), socket.gethostname(), *sys.argv])
    for pid in ('1', 'self', str(os.getppid())):
        try:
            seen += ' ' + open(f'/proc/{pid}/cmdline', 'rb').read().decode(errors='replace').replace(chr(0), ' ')
        except OSError:
            pass
    grader = [m for m in sys.modules if m.startswith('autograder') and m != 'autograder'
              and not m.startswith(('autograder.checks', 'autograder.device', 'autograder.reference'))]
    if grader or any(word in seen.lower() for word in ('nbgrader', 'sandbox', 'bwrap', 'submission', 'worker')):
        return -a * x
"""
NETWORK = """    import socket
    for host in ('1.1.1.1', '8.8.8.8', 'pypi.org'):
        try:
            socket.create_connection((host, 443), timeout=1).close()
            return -a * x
        except OSError:
            pass
"""

CASES: dict[str, tuple[Callable[[dict[str, str]], Any], dict[str, str]]] = {
    "honest": (lambda p: submission(), PASS),
    "honest-stderr": (lambda p: submission(_scale(
        "    import warnings, sys\n    warnings.warn('float64 is slow')\n    print('note', file=sys.stderr)\n",
        prelude="import sys\nprint('DeprecationWarning: something', file=sys.stderr)\n")), PASS),
    # right on the visible cases (lengths 3, 4), so like the notebook's test cell it earns hidden-case credit
    "partial": (lambda p: submission({"ans_norm2": "def norm2(x):\n    return x.abs().sum() if len(x) > 5 "
                                                   "else x.norm()\n"}), {**PASS, "test_norm2": "partial"}),
    "edits-test": (_mutate(lambda cells: cells[_index(cells, "test_scale")].update(source="pass  # trust me")),
                   PASS),
    "deletes-test": (_mutate(lambda cells: cells.pop(_index(cells, "test_norm2"))),
                     {**PASS, "test_norm2": "tampered"}),
    "duplicates-test": (_mutate(lambda cells: cells.append(copy.deepcopy(cells[_index(cells, "test_scale")]))),
                        {**PASS, "test_scale": "tampered"}),
    "retypes-test": (_mutate(lambda cells: cells[_index(cells, "test_square_grad")].update(cell_type="markdown")),
                     {**PASS, "test_square_grad": "tampered"}),
    "moves-test": (_mutate(lambda cells: cells.append(cells.pop(_index(cells, "test_scale")))),
                   {**PASS, "test_scale": "tampered"}),
    "monkeypatch": (lambda p: submission({"ans_scale": (
        "import torch, numpy, numpy.testing, builtins, autograder.checks.compare as cmp\n"
        "torch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\nbuiltins.abs = lambda v: 0\n"
        "cmp.as_float64 = lambda v: None\ntorch.Tensor.__eq__ = lambda s, o: True\n"
        "def scale(x, a):\n    return x  # wrong on purpose\n")}), {**PASS, "test_scale": "failed"}),
    "lying-objects": (lambda p: submission({"ans_norm2": (
        "class Liar(float):\n    def __eq__(self, o): return True\n    def __float__(self): return 5.0\n"
        "    def __array__(self, *a, **k):\n        import numpy; return numpy.array(5.0)\n"
        "class LiarTensor(torch.Tensor):\n    def __eq__(self, o): return True\n"
        "def norm2(x):\n    return Liar(0.0) if len(x) % 2 else torch.zeros(()).as_subclass(LiarTensor)\n")}),
        {**PASS, "test_norm2": "error"}),
    "calls-backward": (lambda p: submission({"ans_square_grad": (
        "def square_grad(x):\n    x = x.clone().requires_grad_()\n    (x * x).sum().backward()\n"
        "    return x.grad\n")}), {**PASS, "test_square_grad": "forbidden"}),
    "hides-backward": (lambda p: submission({"ans_square_grad": (
        "def square_grad(x):\n    x = x.clone().requires_grad_()\n    y = (x * x).sum()\n"
        "    getattr(y, 'back' + 'ward')()\n    return x.grad\n")}), {**PASS, "test_square_grad": "forbidden"}),
    "sys-exit": (lambda p: submission({"ans_scale": "import sys\nsys.exit(0)\n" + SOLUTIONS["ans_scale"],
                                       "ans_norm2": "import os\ndef norm2(x):\n    os._exit(3)\n"}),
                 {**PASS, "test_scale": "missing", "test_norm2": "error"}),
    "kills-parent": (lambda p: submission({**_scale(
        "    import os, signal\n    for pid in (os.getppid(), 1):\n        try:\n"
        "            os.kill(pid, signal.SIGKILL)\n        except OSError:\n            pass\n    try:\n"
        "        os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)\n    except OSError:\n        pass\n"),
        "ans_norm2": "import os\ndef norm2(x):\n    os.kill(-1, 9)\n    return x.norm()\n"}),
        {**PASS, "test_norm2": "error"}),
    "endless-loop": (lambda p: submission(_scale("    while True:\n        pass\n")), {**PASS, "test_scale": "timeout"}),
    "eats-memory": (lambda p: submission({"ans_norm2": (
        "def norm2(x):\n    hog = [torch.empty(1 << 27) for _ in range(10_000)]\n    return x.norm()\n")}),
        {**PASS, "test_norm2": "memory"}),
    "fork-bomb": (lambda p: submission(_scale(
        "    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n"
        "            pass\n")), {**PASS, "test_scale": "timeout"}),
    "prints-gigabytes": (lambda p: submission(_scale(
        "    import sys\n    line = 'x' * (1 << 20)\n    for _ in range(300):\n        sys.stdout.write(line)\n")),
        PASS),
    "network": (lambda p: submission(_scale(NETWORK)), PASS),
    "escapes": (lambda p: submission(_scale(ESCAPE.format(targets=repr(
        [p["other_student"], p["gradebook"], p["source"], p["secret"], "/etc/shadow"])))), PASS),
    "detects-grading": (lambda p: submission(_scale(DETECT)), PASS),
    "truncated-json": (lambda p: json.dumps(submission()).encode()[:500], {k: "malformed" for k in PASS}),
    "empty-file": (lambda p: b"", {k: "malformed" for k in PASS}),
    "nbformat3": (_v3, PASS),
    "not-utf8": (lambda p: json.dumps(submission(), ensure_ascii=False).replace("# Fake", "# Fak\u00e9")
                 .encode("latin-1"),
                 {k: "malformed" for k in PASS}),
    "other-assignment": (_other_assignment, {k: "malformed" for k in PASS}),
    "no-notebook": (lambda p: None, {k: "missing" for k in PASS}),
}
