"""Caps on everything the grader takes from a submission: its container, its JSON, and what it leaves behind.

Every cap lives here, once: what a reader accepts is what the writer of the same field keeps.

Every number here bounds memory or an output file whatever a student uploads; each is far above
what an honest exercise notebook needs (one is well under 1 MB, with a few dozen cells), and
whatever exceeds one is the submission's problem, reported in its row with the limit named.
"""

from __future__ import annotations

from typing import Any

#: One message between the grader and a sandboxed worker (protocol.py).
MAX_MESSAGE_BYTES = 16 << 20
#: A submission's result files copied out of the sandbox, per phase (worker.py), and the inputs a child reads.
RESULT_FILE_BYTES = 64 << 20
INPUT_BYTES = 64 << 20
#: A job descriptor the clean template reads (template.py): folder name, question ids, limits, uid.
DESCRIPTOR_BYTES = 1 << 14
#: Entries looked at per folder when a SUBMISSIONS folder is checked for the usual wrong layouts (a cohort
#: is far smaller; a huge folder is not searched below its top), and how deep a wrapper folder is searched.
LAYOUT_SCAN_ENTRIES = 5000
LAYOUT_DEPTH = 3
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
#: Where a submission came from ("course.zip:member"), as collected, stored and read back.
ORIGIN_CHARS = 1_000
#: Other one-line text read back from a record: a submission's problem or upload name, a note.
LINE_CHARS = 4_000
#: A row's status word, a job's folder name, a phase's name, a map's key, and the entries of a map.
STATUS_CHARS = 20
JOB_NAME_CHARS = 100
PHASE_CHARS = 20
KEY_CHARS = 40
MAP_ENTRIES = 100
#: Named parts of a reply's isolation cost (uid, namespaces, cgroups, ...).
ISOLATION_PARTS = 10
#: Any other text field read from a record, and the items of any list in one (the message cap bounds both).
RECORD_TEXT_CHARS = 8 << 20
RECORD_ITEMS = 10_000
#: Per-student result (OUT/results/<id>.json): notes kept, characters per note and per captured stream.
NOTES = 50
NOTE_CHARS = 300
#: A question's diagnosis in grades.csv and the feedback: long enough for the student's failing line and the
#: whole exception text (the checks never cut them), short enough that 20 questions stay far below RESULT_BYTES.
MESSAGE_CHARS = 2_000
OUTPUT_CHARS = 256 << 10
#: The stored result as a whole; feedback and Gradescope files are rendered from it, so they stay small too.
RESULT_BYTES = 2 << 20


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def bounded_notes(notes: list[str]) -> list[str]:
    """At most NOTES notes of at most NOTE_CHARS each; a last note says how many were dropped."""
    kept = [clip(str(n), NOTE_CHARS) for n in notes[:NOTES]]
    if len(notes) > NOTES:
        kept.append(f"... and {len(notes) - NOTES} more notes (only the first {NOTES} are kept)")
    return kept


def bounded_result(result: dict[str, Any]) -> dict[str, Any]:
    """A stored result with every list and text that came from the submission capped."""
    output = result.get("output") or {}
    capped = {str(k)[:40]: clip(str(v), OUTPUT_CHARS) for k, v in list(output.items())[:8]}
    if any(len(str(v)) > OUTPUT_CHARS for v in output.values()):
        capped["truncated"] = f"captured output beyond {OUTPUT_CHARS} characters per stream was cut"
    return {**result, "notes": bounded_notes(list(result.get("notes") or [])), "output": capped,
            "origin": clip(str(result.get("origin", "")), ORIGIN_CHARS)}
