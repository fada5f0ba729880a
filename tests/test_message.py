"""autograder/message.py: a message is a code and its parameters, equal as data, and rebuilt from plain data only
after every part was checked (what crosses the sandbox boundary or comes from a stored file is hostile)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from autograder.message import DEPTH, ITEMS, NODES, PARAMS, TEXT_CHARS, BadMessage, Message, say

NESTED = say("check.summary", head=say("check.case", grade_id="q", label="N=4", problem=say(
    "raised.text.at", type="ValueError", text="bad", where=say("where.in", function="f", cell="c", line=3))),
    wrong=2, total=8, score="0.5", points=1.5, pairs=[say("at.scalar"), "x"])


def test_equal_messages_are_equal_data_whatever_the_order_of_parameters() -> None:
    assert say("at.index", index="(1, 2)") == say("at.index", index="(1, 2)")
    assert say("c.x", a="1", b="2") == say("c.x", b="2", a="1") and hash(say("c.x", a="1", b="2"))
    assert say("c.x", a="1") != say("c.y", a="1") and NESTED.args["pairs"] == (say("at.scalar"), "x")


def test_plain_form_round_trips_through_json() -> None:
    plain = json.loads(json.dumps(NESTED.to_plain()))
    assert plain["code"] == "check.summary" and plain["params"]["pairs"] == [{"code": "at.scalar", "params": {}}, "x"]
    assert Message.from_plain(plain) == NESTED
    assert [m.code for m in NESTED.walk()] == ["check.summary", "check.case", "raised.text.at", "where.in",
                                               "at.scalar"]


def test_map_text_reaches_every_text_parameter_and_nothing_else() -> None:
    shouted = NESTED.map_text(str.upper)
    texts = [v for m in shouted.walk() for _, v in m.params if isinstance(v, str)]
    assert texts and all(t == t.upper() for t in texts) and shouted.args["wrong"] == 2
    assert shouted.args["pairs"] == (say("at.scalar"), "X")


@pytest.mark.parametrize("code", ["", "Check", "check..case", "check case", "check.", "1check"])
def test_say_refuses_a_malformed_code(code: str) -> None:
    with pytest.raises(ValueError, match="code"):
        say(code)
    with pytest.raises(ValueError, match="parameter"):
        say("check.case", **{"Grade-Id": "q"})
    with pytest.raises(ValueError, match="text, a number or a message"):
        say("check.case", grade_id=None)  # type: ignore[arg-type]


def _deep(depth: int) -> dict[str, Any]:
    plain: dict[str, Any] = {"code": "check.no_output", "params": {}}
    for _ in range(depth):
        plain = {"code": "check.error", "params": {"error": plain}}
    return plain


@pytest.mark.parametrize(("raw", "named"), [
    ("text", "exactly 'code' and 'params'"),
    ({"code": "x"}, "exactly 'code' and 'params'"),
    ({"code": "x", "params": {}, "more": 1}, "exactly 'code' and 'params'"),
    ({"code": "X Y", "params": {}}, "malformed message code"),
    ({"code": "x" * 100, "params": {}}, "malformed message code"),
    ({"code": "x", "params": []}, "params is not an object"),
    ({"code": "x", "params": {str(i): "" for i in range(PARAMS + 1)}}, "params is not an object"),
    ({"code": "x", "params": {"Bad Name": "v"}}, "malformed parameter name"),
    ({"code": "x", "params": {"p": "v" * (TEXT_CHARS + 1)}}, "longer than"),
    ({"code": "x", "params": {"p": float("nan")}}, "finite"),
    ({"code": "x", "params": {"p": True}}, "neither text"),
    ({"code": "x", "params": {"p": None}}, "neither text"),
    ({"code": "x", "params": {"p": [[1]]}}, "neither text"),
    ({"code": "x", "params": {"p": ["a"] * (ITEMS + 1)}}, "neither text"),
    (_deep(DEPTH + 1), "nested deeper"),
    ({"code": "x", "params": {"p": [_deep(0)] * ITEMS, "q": [_deep(0)] * ITEMS, "r": [_deep(0)] * ITEMS,
                              "s": [_deep(0)] * ITEMS, "t": [_deep(0)] * ITEMS, "u": [_deep(0)] * ITEMS}},
     f"more than {NODES}"),
], ids=["not-object", "no-params", "extra-key", "code-words", "code-long", "params-list", "params-many", "name",
        "text-long", "nan", "bool", "none", "nested-list", "list-long", "deep", "many-nodes"])
def test_from_plain_refuses_every_malformed_part_by_name(raw: Any, named: str) -> None:
    with pytest.raises(BadMessage, match=named):
        Message.from_plain(raw)
