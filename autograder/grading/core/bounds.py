"""Capping what a submission made the grader hold, before it is stored or shown: a message, the notes, a result.

The caps themselves are in runner/limits.py (every cap, once); these functions apply them on the trusted side.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from autograder.grading.runner.limits import (
    MESSAGE_CHARS,
    MESSAGE_JSON,
    NOTE_CHARS,
    NOTES,
    ORIGIN_CHARS,
    OUTPUT_CHARS,
    clip,
)
from autograder.message import Message, say


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
    return {**result, "notes": notes, "output": capped, "origin": clip(str(result.get("origin", "")), ORIGIN_CHARS)}
