"""One verdict per seed claim: the data file, every box and inline verdict that cites it (no book build)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
SEEDS = REPO.parent / "shared" / "seeds"  # the source posts live next to the repository, not in it


def _extension() -> ModuleType:
    """book/_ext/seed_claims.py, imported by path as Sphinx does (book/_ext is not a package)."""
    spec = importlib.util.spec_from_file_location("seed_claims", BOOK / "_ext" / "seed_claims.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["seed_claims"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


EXT = _extension()
CLAIMS = EXT.load_claims()
CHAPTERS = sorted(BOOK.glob("*.md"))
BOX = re.compile(r"^```\{seed-claim\}([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
ROLE = re.compile(r"\{verdict\}`([^`]*)`")
ROW_REF = re.compile(r"<claim-row-(\d+)>`")
# a verdict written by hand instead of rendered from the data
HAND_VERDICT = re.compile(r"\*\*Verdicts?\b|\bVerdicts?:|\*\*(?:correct|partly|wrong)\b")
LABEL = re.compile(r"^\(([a-z0-9-]+)\)=", re.MULTILINE)
PLAIN_BOX = re.compile(r"^(?:```|:::)\{admonition\}[^\n]*What the source posts say", re.MULTILINE)
DEFINITION = re.compile(r"^- \*\*(?:correct|partly|wrong)\*\* — ", re.MULTILINE)  # the claims page's legend


def _boxes() -> list[tuple[str, list[str], str]]:
    """(chapter, claim-number arguments, body) of every seed-claim box in the book."""
    found = []
    for chapter in CHAPTERS:
        for match in BOX.finditer(chapter.read_text(encoding="utf-8")):
            found.append((chapter.name, match.group(1).replace(",", " ").split(), match.group(2)))
    return found


BOXES = _boxes()


def _body(text: str) -> str:
    """A box body without its option lines."""
    return "\n".join(line for line in text.splitlines() if not line.startswith(":"))


def test_claims_are_numbered_and_complete() -> None:
    """53 claims from the five seeds (plus later additions), numbered 1..N, each with a known verdict."""
    assert list(CLAIMS.rows) == list(range(1, len(CLAIMS.rows) + 1))
    assert len(CLAIMS.rows) >= 53
    assert {c.seed for c in CLAIMS.rows.values()} == set(CLAIMS.seeds) == {"000", "001", "002", "003", "004"}
    assert {c.verdict for c in CLAIMS.rows.values()} == set(EXT.VERDICTS)


@pytest.mark.parametrize("broken, complaint", [
    ("claims: [", "not valid YAML"),
    ("seeds: {}\n", "expected a mapping"),
    ("seeds: {'000': s}\nclaims:\n- {n: 2, seed: '000', section: s, quote: q, claim: c, verdict: wrong, "
     "correction: x, evidence: e}\n", "numbers must run 1..N"),
    ("seeds: {'000': s}\nclaims:\n- {n: 1, seed: '009', section: s, quote: q, claim: c, verdict: wrong, "
     "correction: x, evidence: e}\n", "unknown seed"),
    ("seeds: {'000': s}\nclaims:\n- {n: 1, seed: '000', section: s, quote: q, claim: c, verdict: mostly, "
     "correction: x, evidence: e}\n", "verdict 'mostly'"),
    ("seeds: {'000': s}\nclaims:\n- {n: 1, seed: '000', section: s, quote: q, claim: c, verdict: wrong}\n",
     "missing fields ['correction', 'evidence']"),
    ("seeds: {'000': s}\nclaims:\n- {n: 1, seed: '000', section: s, quote: q, claim: c, verdict: wrong, "
     "correction: 'a | b', evidence: e}\n", "would break the table"),
])
def test_bad_claims_file_is_reported_with_its_name(broken: str, complaint: str) -> None:
    """A malformed data file fails the build with the file name and what is wrong."""
    with pytest.raises(EXT.ClaimsError) as info:
        EXT.parse_claims(broken, "book/_data/claims.yml")
    assert "book/_data/claims.yml" in str(info.value) and complaint in str(info.value)


def test_every_box_cites_existing_claims() -> None:
    """Each "What the source posts say" box names at least one claim, and every number is a row of the table."""
    assert len(BOXES) >= 17, f"only {len(BOXES)} seed-claim boxes found"
    for chapter, numbers, body in BOXES:
        assert numbers, f"{chapter}: a seed-claim box cites no claim"
        bad = [n for n in numbers if not n.isdigit() or int(n) not in CLAIMS.rows]
        assert not bad, f"{chapter}: seed-claim cites unknown claim(s) {bad}"
        assert _body(body).strip(), f"{chapter}: seed-claim {numbers} has no discussion"


def test_boxes_do_not_state_their_own_verdict() -> None:
    """The box shows the table's verdict; a hand-written one in its body could disagree with it."""
    for chapter, numbers, body in BOXES:
        hit = HAND_VERDICT.search(_body(body))
        assert not hit, f"{chapter}: box {numbers} states a verdict by hand ({hit.group(0)!r}); the table's is shown"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_no_hand_written_verdicts_or_boxes(chapter: Path) -> None:
    """Outside the data, verdicts appear only through {seed-claim} and {verdict}; no plain source-post boxes."""
    text = DEFINITION.sub("", BOX.sub("", chapter.read_text(encoding="utf-8")))
    assert not PLAIN_BOX.search(text), \
        f"{chapter.name}: a plain admonition quotes the seeds; use ```{{seed-claim}} N``` to show the table's verdict"
    hit = HAND_VERDICT.search(text)
    assert not hit, f"{chapter.name}: hand-written verdict {hit.group(0)!r}; use {{verdict}}`N` or a seed-claim box"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_inline_verdicts_and_row_links_exist(chapter: Path) -> None:
    """{verdict}`N` and {ref}`... <claim-row-N>` point at rows that exist."""
    text = chapter.read_text(encoding="utf-8")
    cited = [m.strip() for m in ROLE.findall(text)] + ROW_REF.findall(text)
    bad = [n for n in cited if not n.isdigit() or int(n) not in CLAIMS.rows]
    assert not bad, f"{chapter.name}: verdicts or links for unknown claims {bad}"


def test_every_claim_is_discussed_somewhere_with_evidence() -> None:
    """Each row's evidence names a label that exists in the book (or a citation)."""
    labels = {m for chapter in CHAPTERS for m in LABEL.findall(chapter.read_text(encoding="utf-8"))}
    for claim in CLAIMS.rows.values():
        refs = re.findall(r"\{ref\}`(?:[^`<]*<)?([a-z0-9-]+)>?`", claim.evidence)
        assert refs or "{cite}" in claim.evidence, f"claim {claim.n}: no evidence"
        missing = [r for r in refs if r not in labels]
        assert not missing, f"claim {claim.n}: evidence label(s) {missing} not defined in book/*.md"


def test_table_and_summary_render_every_claim_once() -> None:
    """The claims page's per-seed tables hold each row once; the summary counts add up."""
    rows = [line for seed in CLAIMS.seeds for line in EXT.table_markdown(CLAIMS, seed).splitlines()[2:]]
    by_number = {int(r.split("|")[1]): r for r in rows}
    assert len(by_number) == len(rows) and sorted(by_number) == list(CLAIMS.rows)
    for claim in CLAIMS.rows.values():
        assert f"| **{claim.verdict}** |" in by_number[claim.n]
    summary = EXT.summary_markdown(CLAIMS)
    assert f"**{len(CLAIMS.rows)} claims checked" in summary


def test_resolved_disagreements() -> None:
    """The verdicts that used to differ between pages (issue #13, items 14-15) have one value each."""
    expected = {1: "partly", 10: "partly", 34: "partly", 35: "partly", 44: "partly", 50: "partly"}
    assert {n: CLAIMS.rows[n].verdict for n in expected} == expected


def test_reviewed_verdicts_record_their_reason() -> None:
    """The verdicts changed after the expert review (issue 20) have their new value and a recorded reason, and the
    two definitions of explosion (claims 23 and 34) are judged alike."""
    expected = {2: "partly", 23: "partly", 36: "correct", 37: "partly"}
    assert {n: CLAIMS.rows[n].verdict for n in expected} == expected
    assert CLAIMS.rows[23].verdict == CLAIMS.rows[34].verdict
    text = (BOOK / "_data" / "claims.yml").read_text(encoding="utf-8")
    for n in expected:
        block = re.search(rf"^- n: {n}\n(.*?)(?=^- n: )", text, re.MULTILINE | re.DOTALL)
        assert block and "# verdict reviewed" in block.group(1), f"claim {n}: no recorded reason for its verdict"


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"seed posts not found at {SEEDS}")
def test_quotes_are_verbatim_in_the_seeds() -> None:
    """Every quote (split at … omissions) appears in its seed, ignoring whitespace and $ math delimiters."""

    def norm(text: str) -> str:
        return re.sub(r"[\s$]+", "", text)

    for claim in CLAIMS.rows.values():
        source = norm((SEEDS / f"{CLAIMS.seeds[claim.seed]}.txt").read_text(encoding="utf-8"))
        for piece in re.split(r"…+", claim.quote):
            assert norm(piece) in source, f"claim {claim.n}: {piece!r} is not in seed {claim.seed}"
