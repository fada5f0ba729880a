"""Caps on everything the grader takes from a submission: its container, its JSON, and what it leaves behind.

Every cap lives here, once: what a reader accepts is what the writer of the same field keeps.

Every number here bounds memory or an output file whatever a student uploads; each is far above
what an honest exercise notebook needs (one is well under 1 MB, with a few dozen cells), and
whatever exceeds one is the submission's problem, reported in its row with the limit named.
"""

from __future__ import annotations

#: The wall-clock seconds the grader gives each phase by default (`--timeout`): the cells before a test cell, and
#: each question's calls on all its cases. A check cell warns when a question's calls come near it (checks/notebook.py).
QUESTION_SECONDS = 10.0
#: A message record read from untrusted JSON (autograder/message.py): characters of its code, of a parameter's
#: name and of a text parameter; parameters per message, items per list, nesting depth, and messages in all.
MESSAGE_CODE_CHARS, MESSAGE_NAME_CHARS, MESSAGE_TEXT_CHARS = 80, 40, 4000
MESSAGE_PARAMS, MESSAGE_ITEMS, MESSAGE_DEPTH, MESSAGE_NODES = 16, 40, 8, 200
#: One message between the grader and a sandboxed worker (protocol.py).
MAX_MESSAGE_BYTES = 16 << 20
#: A submission's result frames, every phase together (worker.py): the worker holds them, outside the submission's
#: memory cap, and copies them out of the sandbox (an honest one sends well under 1 MB); the inputs a child reads.
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
#: Known mistakes one row may name.
MISTAKES_PER_ROW = 20
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
#: Questions in one job: two phases each (the cells before it, then the question), numbered in a frame's one byte.
JOB_QUESTIONS = 100
#: Named parts of a reply's isolation cost (uid, namespaces, cgroups, ...).
ISOLATION_PARTS = 10
#: Named stages of a reply's profile (worker.STAGES).
STAGES = 20
#: Any other text field read from a record, and the items of any list in one (the message cap bounds both).
RECORD_TEXT_CHARS = 8 << 20
RECORD_ITEMS = 10_000
#: Notes a result read back may hold (what is stored holds at most NOTES + 1).
RECORD_NOTES = 1_000
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
