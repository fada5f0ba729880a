"""The translation lint's rules and the term-list checks, each on a crafted bad message (no catalogs, no build)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.book_build import REPO
from tests.translation_lint import RULES, problems, prose
from tests.translation_terms import Glossary, Term, glossary_problems, load_terms, parse_glossary, term_problems

TERMS = REPO / "book" / "locale" / "zh_CN" / "terms.yml"

# rule -> (msgid, a msgstr that breaks only that rule)
BAD = {
    "untranslated": ("The gradient.", ""),
    "role-targets": ("See {term}`gradient`.", "见{term}`梯度 <gradients>`。"),
    "verbatim": ("Call `clip_grad_norm_` with $c$.", "调用 `clip_grad_value_`，参数为 $c$。"),
    "cjk-italics": ("Clipping *before* the step.", "在更新*之前*裁剪。"),
    "doubled-gloss": ("*Gradient clipping* (梯度裁剪) limits it.", "**梯度裁剪**（梯度裁剪）限制它。"),
    "emphasis-punctuation": ("A **forward hook** and a **backward hook**.",
                             "一个**前向钩子**和一个**。反向钩子**"),
    "display-math": ("\nx = 1 \\quad (\\text{layer } L)\n", "\nx = 1 \\quad (\\text{第 } L \\text{ 层})\n"),
}
GOOD = ("A **forward hook** runs *after* `forward`, see {term}`gradient` and $x^*$.",
        "**前向钩子**在 `forward` **之后**运行，见{term}`梯度 <gradient>`与 $x^*$（gradient）。")


def test_every_rule_has_a_crafted_bad_message() -> None:
    """A rule added without a bad example here, or deleted from the lint, fails this test."""
    assert set(BAD) == {"untranslated", *RULES}


@pytest.mark.parametrize("rule", sorted(BAD))
def test_rule_fails_its_bad_message(rule: str) -> None:
    """The crafted message breaks exactly the named rule."""
    msgid, msgstr = BAD[rule]
    found = problems(msgid, msgstr)
    assert found and all(line.split(":")[0] == rule for line in found), found


def test_a_good_message_passes_every_rule() -> None:
    """Bold on Chinese, code and math copied, a role retargeted explicitly, an English gloss: no problem."""
    assert problems(*GOOD) == []


def test_prose_keeps_the_shown_words_only() -> None:
    """Roles show their text, code/math/keys become X, link targets go: the term checks never see markup."""
    text = "见{term}`梯度 <gradient>`、{cite}`kingma2015adam`、`fan_in`、$\\text{fan-in}$ 和[练习](../x.ipynb)"
    assert prose(text) == "见梯度、X、X、X 和[练习]"


def _term(zh: str = "批量归一化", forbidden: tuple[str, ...] = (), **kw: str | tuple[str, ...]) -> Term:
    """A crafted term with defaults."""
    return Term(concept="c", en="e", zh=zh, forbidden=tuple(re.compile(p) for p in forbidden), **kw)  # type: ignore[arg-type]


def test_term_problems_catches_each_kind() -> None:
    """A forbidden variant, an abbreviation never introduced, a required term missing: one line each."""
    terms = [_term(forbidden=("BatchNorm",), abbreviation="BN", required_in=("book/x",))]
    bad = term_problems(terms, [("id", "BatchNorm 与 BN")], "book/x")
    assert len(bad) == 3 and "'BatchNorm'" in bad[0] and "introduces" in bad[1] and "never names" in bad[2]
    assert term_problems(terms, [("id", "批量归一化（BN）之后的 BN 层")], "book/x") == []


def test_glossary_problems_catches_each_kind() -> None:
    """Wrong headword, forbidden headword, missing entry, renamed in the Chinese edition."""
    terms = [_term(zh="偏差校正", forbidden=("偏差修正",), glossary="bias correction"), _term(glossary="missing")]
    glossary = Glossary([["bias correction", "偏差修正"]])
    found = glossary_problems(terms, glossary, {})
    assert any("not the term '偏差校正'" in f for f in found) and any("forbidden headwords" in f for f in found)
    assert any("no glossary entry 'missing'" in f for f in found)
    renamed = glossary_problems(terms[:1], Glossary([["bias correction", "偏差校正"]]), {"偏差校正": "偏差修正"})
    assert renamed == ["the Chinese glossary renames headword '偏差校正' to '偏差修正'"]


def test_parse_glossary_groups_headwords() -> None:
    """Unindented lines are headwords of the entry their indented definition follows."""
    text = "x\n```{glossary}\nAdam\n  def\n\nbias correction\n偏差校正\n  Adam's division.\n```\nafter\n"
    assert parse_glossary(text).entries == [["Adam"], ["bias correction", "偏差校正"]]


def test_term_list_is_valid_and_never_forbids_its_own_terms(tmp_path: Path) -> None:
    """Every entry loads; no forbidden pattern matches a chosen term; unknown fields are refused."""
    terms = load_terms(TERMS)
    assert len(terms) >= 15 and len({t.concept for t in terms}) == len(terms)
    for term in terms:
        assert not any(p.search(term.zh) for p in term.forbidden), term.zh
    bad = tmp_path / "terms.yml"
    bad.write_text("- {concept: c, en: e, zh: z, colour: red}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="colour"):
        load_terms(bad)
