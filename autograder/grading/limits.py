"""Caps on everything the grader takes from a submission: its container, its JSON, and what it leaves behind.

Every number here bounds memory or an output file whatever a student uploads; each is far above
what an honest exercise notebook needs (one is well under 1 MB, with a few dozen cells), and
whatever exceeds one is the submission's problem, reported in its row with the limit named.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from autograder.grading.protocol import MAX_MESSAGE_BYTES
from autograder.message import Message, say

#: A notebook file larger than this is refused unread.
NOTEBOOK_BYTES = 32 << 20
#: JSON values (strings, and '[' '{' ',' outside them) a notebook may hold: bounds what json.loads builds,
#: since a 3-byte `{},` costs ~64 bytes of Python objects. The course's notebooks hold about 1-2 thousand.
JSON_VALUES = 200_000
#: Cells a notebook may have.
CELLS = 10_000
#: Bytes of cell code (as the job's JSON) sent to the sandbox: well inside the protocol's message cap, and a
#: bound on the forbidden-shortcut scan, which parses the answers into an AST in the grader's process.
CODE_BYTES = min(2 << 20, MAX_MESSAGE_BYTES // 2)
#: Members of an LMS zip, and bytes of its central directory (both read into memory by zipfile).
ZIP_MEMBERS = 50_000
ZIP_DIRECTORY_BYTES = 32 << 20
#: Files one student's upload may hold (a zip's members, or the entries of an assignment folder).
FILES_PER_STUDENT = 1_000
#: Characters of a student id (it names files and folders in OUT/) and of a name quoted in a message; an id's
#: UTF-8 bytes are capped too, so that `<id>.json` stays within the 255 bytes a file name may have.
ID_CHARS = 64
ID_BYTES = 160
NAME_CHARS = 200
#: Per-student result (OUT/results/<id>.json): notes kept, characters per note and per captured stream.
NOTES = 50
NOTE_CHARS = 300
#: A question's diagnosis in grades.csv and the feedback: long enough for the student's failing line and the
#: whole exception text (the checks never cut them), short enough that 20 questions stay far below RESULT_BYTES.
MESSAGE_CHARS = 2_000
#: A question's message as stored (its code, parameters and nested messages as JSON): bounds a row's size.
MESSAGE_JSON = 8_000
OUTPUT_CHARS = 256 << 10
#: The stored result as a whole; feedback and Gradescope files are rendered from it, so they stay small too.
RESULT_BYTES = 2 << 20


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def bounded_message(message: Message, chars: int = MESSAGE_CHARS) -> Message:
    """`message` with each text parameter on one line and at most `chars` long, tighter still while its JSON form
    exceeds MESSAGE_JSON (the student's exception text can be long, and messages nest)."""
    for limit in (chars, 200, 40):
        short = message.map_text(functools.partial(_one_line, limit=limit))
        if len(json.dumps(short.to_plain())) <= MESSAGE_JSON:
            return short
    return say("results.too_long")


def _one_line(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters."""
    return clip(" ".join(text.split()), limit)


def bounded_notes(notes: list[Message]) -> list[Message]:
    """At most NOTES notes, each text in them at most NOTE_CHARS long; a last note says how many were dropped (notes
    bounded already stay as they are)."""
    kept = [bounded_message(n, NOTE_CHARS) for n in notes[:NOTES]]
    if len(notes) == NOTES + 1 and notes[-1].code == "note.more_notes":
        kept.append(notes[-1])
    elif len(notes) > NOTES:
        kept.append(say("note.more_notes", count=len(notes) - NOTES, limit=NOTES))
    return kept


def bounded_result(result: dict[str, Any]) -> dict[str, Any]:
    """A stored result (its JSON form) with every list and text that came from the submission capped."""
    output = result.get("output") or {}
    capped = {str(k)[:40]: clip(str(v), OUTPUT_CHARS) for k, v in list(output.items())[:8]}
    notes = list(result.get("notes") or [])[:NOTES + 1]
    if any(len(str(v)) > OUTPUT_CHARS for v in output.values()):
        notes.append(say("note.output_capped", limit=OUTPUT_CHARS).to_plain())
    return {**result, "notes": notes, "output": capped, "origin": clip(str(result.get("origin", "")), NAME_CHARS)}
