"""Sphinx extension: one verdict per seed claim, kept in book/_data/claims.yml and rendered everywhere.

Usage in any chapter (MyST):

    ```{seed-claim} 44 45
    :title: "explosion is when gradients exceed computing capacity"
    The discussion, in MyST. Do NOT restate a verdict here: the box shows the table's verdict itself.
    ```

renders a "What the source posts say: <title>" box (warning style; tip style when every claim is correct)
that quotes each claim verbatim from the data (seed, section, Chinese quote, English translation), links
"claim N" to its row on the claims page and shows the verdict from the table, then the discussion.
``:title:`` is optional (default: the first claim's English summary).

Inline: {verdict}`27` renders "**wrong** (claim 27)" with the link. On the claims page,
```{seed-claims-table} 003``` renders one seed's rows (each row has the id ``claim-row-N``) and
```{seed-claims-summary}``` the verdict counts. tests/test_claims.py checks the data and every use.

Translated editions (language set, e.g. zh_CN): the text generated here that no chapter's own catalog holds
(table headers, verdict words, "Claim N", each row's claim, correction and evidence) is translated through
the claims page's catalog (book/claims.po), into which `make translations` extracts it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.builders.gettext import MsgOrigin
from sphinx.environment import BuildEnvironment
from sphinx.locale import init as init_locale
from sphinx.util.docutils import SphinxDirective, SphinxRole
from sphinx.util.i18n import docname_to_domain

DATA = Path(__file__).resolve().parents[1] / "_data" / "claims.yml"
CLAIMS_PAGE = "book/claims"
VERDICTS = ("correct", "partly", "wrong")
FIELDS = {"n", "seed", "section", "quote", "claim", "verdict", "correction", "evidence"}
OPTIONAL = {"translation"}
TABLE_HEADER = ("source", "claim", "verdict", "correction", "evidence")
SUMMARY_HEADER = ("seed", "claims")
LABELS = ("Claim {n}", "claim {n}", "— verdict:")  # {n} is the claim number

Translate = Callable[[str], str]


def untranslated(text: str) -> str:
    """The English edition: every message stays as written."""
    return text


class ClaimsError(ValueError):
    """The claims data file is malformed (the message names the file and the entry)."""


@dataclass(frozen=True)
class Claim:
    """One checked statement of a seed post and its single verdict."""

    n: int
    seed: str
    section: str
    quote: str
    claim: str
    verdict: str
    correction: str
    evidence: str
    translation: str = ""


@dataclass(frozen=True)
class Claims:
    """All claims, numbered 1..N, and the seed ids they come from."""

    seeds: dict[str, str]
    rows: dict[int, Claim]


def parse_claims(text: str, where: str = str(DATA)) -> Claims:
    """Validate and load the YAML text of the claims file; errors name `where` and the bad entry."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ClaimsError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("seeds"), dict) or not isinstance(doc.get("claims"), list):
        raise ClaimsError(f"{where}: expected a mapping with 'seeds' (mapping) and 'claims' (list)")
    seeds = {str(k): str(v) for k, v in doc["seeds"].items()}
    rows: dict[int, Claim] = {}
    for i, entry in enumerate(doc["claims"], start=1):
        if not isinstance(entry, dict):
            raise ClaimsError(f"{where}: claim #{i} is not a mapping")
        keys = set(entry)
        if FIELDS - keys or keys - FIELDS - OPTIONAL:
            raise ClaimsError(f"{where}: claim #{i}: missing fields {sorted(FIELDS - keys)}, "
                              f"unknown fields {sorted(keys - FIELDS - OPTIONAL)}")
        fields = {k: str(v) for k, v in entry.items() if k != "n"}
        claim = Claim(n=int(entry["n"]), **fields)  # keys checked against FIELDS above
        if claim.n != i:
            raise ClaimsError(f"{where}: claim #{i} is numbered {claim.n}; numbers must run 1..N in order "
                              "(the links to rows use them)")
        if claim.seed not in seeds:
            raise ClaimsError(f"{where}: claim {claim.n}: unknown seed {claim.seed!r} (known: {sorted(seeds)})")
        if claim.verdict not in VERDICTS:
            raise ClaimsError(f"{where}: claim {claim.n}: verdict {claim.verdict!r} is not one of {VERDICTS}")
        if any("|" in f for f in (claim.quote, claim.claim, claim.correction, claim.evidence, claim.section)):
            raise ClaimsError(f"{where}: claim {claim.n}: '|' would break the table")
        rows[claim.n] = claim
    return Claims(seeds, rows)


def load_claims(path: Path = DATA) -> Claims:
    """Read and validate the claims file."""
    return parse_claims(path.read_text(encoding="utf-8"), str(path))


def row_id(n: int) -> str:
    """The HTML id (and Sphinx label) of claim n's row on the claims page."""
    return f"claim-row-{n}"


def quote_line(claims: Claims, claim: Claim) -> str:
    """MyST paragraph quoting the claim verbatim, with its source and a translation (else the English summary)."""
    english = f"(“{claim.translation}”)" if claim.translation else f"— in short: {claim.claim}"
    return f"Seed `{claims.seeds[claim.seed]}` ({claim.section}): 「{claim.quote}」 {english}"


def claims_messages(claims: Claims) -> list[str]:
    """Every message this extension generates outside the chapters' own catalogs, in catalog order."""
    messages = [*TABLE_HEADER, *SUMMARY_HEADER, *VERDICTS, *LABELS]
    for c in claims.rows.values():
        messages += [c.claim, c.correction, c.evidence]
    return list(dict.fromkeys(messages))


def numbered(label: str, n: int) -> str:
    """A LABELS message with its claim number filled in."""
    return label.replace("{n}", str(n))


def cell(tr: Translate, text: str) -> str:
    """A translated table cell; a '|' in a translation would break the table."""
    translated = tr(text)
    if "|" in translated:
        raise ClaimsError(f"the translation of {text[:60]!r} in the {CLAIMS_PAGE} catalog contains '|', "
                          "which would break the claims table")
    return translated


def table_markdown(claims: Claims, seed: str, tr: Translate = untranslated) -> str:
    """The rows of one seed as a MyST pipe table."""
    lines = ["| # | " + " | ".join(cell(tr, h) for h in TABLE_HEADER) + " |", "|---|---|---|---|---|---|"]
    for c in claims.rows.values():
        if c.seed == seed:
            lines.append(f"| {c.n} | {c.section} | 「{c.quote}」 — {cell(tr, c.claim)} | **{cell(tr, c.verdict)}** "
                         f"| {cell(tr, c.correction)} | {cell(tr, c.evidence)} |")
    return "\n".join(lines)


def summary_markdown(claims: Claims, tr: Translate = untranslated) -> str:
    """Verdict counts over all claims and per seed, as MyST (the first line is in the page's own catalog)."""
    total = Counter(c.verdict for c in claims.rows.values())
    header = "| " + " | ".join(cell(tr, h) for h in (*SUMMARY_HEADER, *VERDICTS)) + " |"
    lines = [f"**{len(claims.rows)} claims checked: {total['correct']} correct, {total['partly']} partly right, "
             f"{total['wrong']} wrong.**", "", header, "|---|---|---|---|---|"]
    for seed, name in claims.seeds.items():
        c = Counter(r.verdict for r in claims.rows.values() if r.seed == seed)
        lines.append(f"| `{name}` | {sum(c.values())} | {c['correct']} | {c['partly']} | {c['wrong']} |")
    return "\n".join(lines)


def claim_xref(n: int, text: str) -> addnodes.pending_xref:
    """A :ref: to claim n's row on the claims page."""
    return addnodes.pending_xref("", nodes.inline("", text, classes=["std", "std-ref"]), refdomain="std",
                                 reftype="ref", reftarget=row_id(n), refexplicit=True, refwarn=True)


def verdict_paragraph(claim: Claim, tr: Translate = untranslated) -> nodes.paragraph:
    """'Claim N — verdict: **wrong**', linked, with classes the HTML test reads back."""
    para = nodes.paragraph(classes=["seed-verdict", f"verdict-{claim.verdict}"])
    para += nodes.strong("", "", claim_xref(claim.n, numbered(tr("Claim {n}"), claim.n)))
    para += nodes.Text(f" {tr('— verdict:')} ")
    para += nodes.strong("", tr(claim.verdict))
    return para


def translator(env: BuildEnvironment) -> Translate:
    """Look-ups in the claims page's catalog for the language being built (none for English, gettext)."""
    language = env.config.language
    if not language or language == "en" or not getattr(env.app.builder, "use_message_catalog", True):
        return untranslated
    env.note_dependency(str(DATA))
    domain = docname_to_domain(CLAIMS_PAGE, env.config.gettext_compact)
    dirs = [str(Path(env.srcdir) / d) for d in env.config.locale_dirs]
    catalog, _ = init_locale(dirs, language, domain)
    return lambda text: catalog.gettext(text) if text else text  # gettext("") is the catalog's header


def add_claims_messages(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """gettext builder: put the generated messages into the claims page's catalog."""
    if app.builder.name != "gettext" or docname != CLAIMS_PAGE:
        return
    catalog = app.builder.catalogs[docname_to_domain(docname, app.config.gettext_compact)]  # type: ignore[attr-defined]
    for message in claims_messages(load_claims()):
        catalog.add(message, MsgOrigin(str(DATA), 0))


def _numbers(arguments: list[str], claims: Claims, where: str) -> list[int]:
    """Parse claim numbers and check that they exist."""
    numbers = [int(a) for a in " ".join(arguments).replace(",", " ").split() if a.isdigit()]
    bad = [a for a in " ".join(arguments).replace(",", " ").split() if not a.isdigit() or int(a) not in claims.rows]
    if not numbers or bad:
        raise ClaimsError(f"{where}: seed-claim needs existing claim numbers 1..{len(claims.rows)}, got {arguments}")
    return numbers


class _ClaimsDirective(SphinxDirective):
    """Shared loading and MyST rendering."""

    def claims(self) -> Claims:
        """The validated data; the page is rebuilt when the file changes."""
        self.env.note_dependency(str(DATA))
        return load_claims()

    def parse_markdown(self, text: str, into: nodes.Element) -> None:
        """Parse generated MyST text into `into` (roles such as {ref} and {cite} work)."""
        self.state.nested_parse(StringList(text.splitlines(), source=str(DATA)), self.content_offset, into)


class SeedClaim(_ClaimsDirective):
    """The "What the source posts say" box for one or more claims (see the module docstring)."""

    required_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = {"title": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        claims = self.claims()
        where = f"{self.env.docname}:{self.lineno}"
        rows = [claims.rows[n] for n in _numbers(self.arguments, claims, where)]
        if not self.content:
            raise self.error(f"{where}: seed-claim {self.arguments[0]} has no discussion")
        title = self.options.get("title") or rows[0].claim
        style = "tip" if all(r.verdict == "correct" for r in rows) else "warning"
        box = nodes.admonition(classes=["admonition", style, "seed-claim"])
        text_nodes, messages = self.state.inline_text(f"What the source posts say: {title}", self.lineno)
        box += nodes.title("", "", *text_nodes)
        tr = translator(self.env)
        for row in rows:
            self.parse_markdown(quote_line(claims, row), box)
            box += verdict_paragraph(row, tr)
        self.state.nested_parse(self.content, self.content_offset, box)
        return [box, *messages]


class SeedClaimsTable(_ClaimsDirective):
    """One seed's rows of the claims table; each row gets the id claim-row-N and is a :ref: target."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        claims = self.claims()
        seed = self.arguments[0]
        if seed not in claims.seeds:
            raise self.error(f"{self.env.docname}: unknown seed {seed!r} (known: {sorted(claims.seeds)})")
        holder = nodes.container()
        tr = translator(self.env)
        self.parse_markdown(table_markdown(claims, seed, tr), holder)
        numbers = [c.n for c in claims.rows.values() if c.seed == seed]
        body_rows = [r for tbody in holder.findall(nodes.tbody) for r in tbody.children]
        std = self.env.get_domain("std")
        for n, row in zip(numbers, body_rows, strict=True):
            row["ids"].append(row_id(n))
            row["classes"].append(f"verdict-{claims.rows[n].verdict}")
            std.anonlabels[row_id(n)] = (self.env.docname, row_id(n))  # type: ignore[attr-defined]
            std.labels[row_id(n)] = (self.env.docname, row_id(n), numbered(tr("Claim {n}"), n))  # type: ignore[attr-defined]
        return list(holder.children)


class SeedClaimsSummary(_ClaimsDirective):
    """The verdict counts, overall and per seed."""

    def run(self) -> list[nodes.Node]:
        holder = nodes.container()
        self.parse_markdown(summary_markdown(self.claims(), translator(self.env)), holder)
        return list(holder.children)


class VerdictRole(SphinxRole):
    """{verdict}`27` -> '**wrong** (claim 27)', linked to the row."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        self.env.note_dependency(str(DATA))
        claims = load_claims()
        match = re.fullmatch(r"\s*(\d+)\s*", self.text)
        if not match or int(match.group(1)) not in claims.rows:
            msg = self.inliner.reporter.error(f"verdict: no claim {self.text!r} in {DATA}", line=self.lineno)
            return [nodes.problematic(self.rawtext, self.rawtext)], [msg]
        claim = claims.rows[int(match.group(1))]
        tr = translator(self.env)
        span = nodes.inline(classes=["seed-verdict", f"verdict-{claim.verdict}"])
        span += nodes.strong("", tr(claim.verdict))
        span += nodes.Text(" (")
        span += claim_xref(claim.n, numbered(tr("claim {n}"), claim.n))
        span += nodes.Text(")")
        return [span], []


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives and the role."""
    app.add_directive("seed-claim", SeedClaim)
    app.add_directive("seed-claims-table", SeedClaimsTable)
    app.add_directive("seed-claims-summary", SeedClaimsSummary)
    app.add_role("verdict", VerdictRole())
    app.connect("doctree-resolved", add_claims_messages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
