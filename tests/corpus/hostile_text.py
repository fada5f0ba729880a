"""Hostile text (issue 18 §4): submissions whose exceptions, prints, names and notebook text carry lone
surrogates, NUL and other control characters, terminal escapes, bidi overrides and invalid UTF-8.

`TEXT_CASES` has the same form as hostile.CASES (tests/grading/core/test_corpus.py grades both in one batch):
student id -> (builder, expected statuses per grade_id). Every output of the batch must still be written
and be valid UTF-8 without those code points (`DANGEROUS`).
"""

from __future__ import annotations

import json
from typing import Any

from fakecourse.notebooks import submission

PASS = {"test_scale": "passed", "test_norm2": "passed", "test_square_grad": "passed"}
#: Built from escapes at run time, so that this file itself stays plain text.
NASTY = "".join(map(chr, (0xD800, 0x0, 0x1B, 0x5B, 0x33, 0x31, 0x6D, 0x7, 0x202E, 0x2066, 0x85, 0x9B, 0xDFFF)))
#: Code points that must appear in no output file (fields.safe_text replaces them).
DANGEROUS = frozenset(chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0),
                                       *range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0xD800, 0xE000)))

#: The reproduction of the issue: scale() raises ValueError("bad \ud800 value").
RAISES_SURROGATE = ("def scale(x, a):\n"
                    "    raise ValueError('bad ' + chr(0xD800) + ' value')\n")
#: norm2() raises an exception whose class name and message are full of control, bidi and escape characters.
RAISES_NASTY = ("import torch\n"
                "NASTY = ''.join(map(chr, (0xD800, 0x0, 0x1B, 0x5B, 0x33, 0x31, 0x6D, 0x7, 0x202E, 0x2066, 0x85)))\n"
                "Evil = type('Evil' + chr(0x202E) + chr(0x1B), (Exception,), {})\n"
                "def norm2(x):\n"
                "    raise Evil('nasty ' + NASTY + ' text ' + chr(0xDFFF))\n")
#: Prints hostile text through Python and raw bytes straight to the file descriptors (invalid UTF-8 included),
#: then answers correctly: every question still passes.
PRINTS_NASTY = ("import os, sys\n"
                "NASTY = ''.join(map(chr, (0xD800, 0x0, 0x1B, 0x5B, 0x33, 0x31, 0x6D, 0x7, 0x202E, 0x2066, 0x85)))\n"
                "print('printed', NASTY.encode('utf-8', 'surrogatepass').decode('utf-8', 'replace'))\n"
                "os.write(1, b'raw \\xff\\xfe\\xed\\xa0\\x80 \\x00\\x1b]0;title\\x07 \\xe2\\x80\\xae end\\n')\n"
                "os.write(2, b'err \\xc3\\x28 \\x00 \\x1b[2J\\r overwritten\\n')\n"
                "try:\n"
                "    sys.stderr.write('surrogate ' + chr(0xDC80) + chr(0xD800) + '\\n')\n"
                "except UnicodeEncodeError:\n"
                "    print('the stream refused a surrogate, as in Jupyter')\n"
                "def scale(x, a):\n"
                "    return a * x\n")
#: A helper cell of the student's own that fails with a message holding a lone surrogate and a NUL.
CELL_ERROR: dict[str, Any] = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": "raise RuntimeError('cell ' + chr(0xD83D) + chr(0) + chr(0x202E) + ' failed')\n"}


def _surrogates_in_the_json(in_code: bool) -> Any:
    """A builder: an honest notebook whose JSON holds lone-surrogate escapes, NUL and escape characters in a
    markdown cell and its metadata (json.loads accepts them, UTF-8 encoders do not), and with `in_code` in a
    comment of the scale answer too (which then cannot compile, as in Jupyter: scale is missing)."""
    def build(paths: dict[str, str]) -> bytes:
        nb = submission()
        nb["cells"].insert(0, {"cell_type": "markdown", "metadata": {"title": NASTY}, "source": "notes " + NASTY})
        for cell in nb["cells"]:
            if in_code and cell["metadata"].get("nbgrader", {}).get("grade_id") == "ans_scale":
                cell["source"] = "# comment " + NASTY + "\n" + cell["source"]
        return json.dumps(nb).encode()  # ensure_ascii: the surrogates travel as \ud800 escapes
    return build


#: A forbidden answer behind a comment holding a lone surrogate: the static scan must still read it (it once
#: crashed on such text, and a scan that gives up on a cell would let the shortcut through).
HIDDEN_AUTOGRAD = ("# " + chr(0xD800) + " nothing to see\n"
                   "def square_grad(x):\n"
                   "    x = x.clone().requires_grad_()\n"
                   "    return torch.autograd.grad((x * x).sum(), x)[0]\n")


def _notebook(answers: dict[str, str], extra: list[dict[str, Any]] | None = None) -> Any:
    """A builder for a submission with these answers (and extra cells)."""
    return lambda paths: submission(answers, extra)


TEXT_CASES: dict[str, tuple[Any, dict[str, str]]] = {
    "raises-surrogate": (_notebook({"ans_scale": RAISES_SURROGATE}), {**PASS, "test_scale": "error"}),
    "raises-nasty": (_notebook({"ans_norm2": RAISES_NASTY}), {**PASS, "test_norm2": "error"}),
    "prints-nasty": (_notebook({"ans_scale": PRINTS_NASTY}), PASS),
    "cell-error-nasty": (_notebook({}, [CELL_ERROR]), PASS),
    "surrogates-in-json": (_surrogates_in_the_json(False), PASS),
    "surrogates-in-code": (_surrogates_in_the_json(True), {**PASS, "test_scale": "missing"}),
    "surrogate-hides-autograd": (_notebook({"ans_square_grad": HIDDEN_AUTOGRAD}),
                                 {**PASS, "test_square_grad": "forbidden"}),
}
