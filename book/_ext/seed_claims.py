"""Sphinx extension: one verdict per seed claim, kept in book/_data/claims.yml and rendered everywhere.

Usage in any chapter (MyST):

    ```{seed-claim} 44 45
    :title: "explosion is when gradients exceed computing capacity"
    The discussion, in MyST. Do NOT restate a verdict here: the box shows the table's verdict itself.
    ```

renders a "What the source post says, checked: <title>" box (warning style; tip style when every claim is
correct) that quotes each claim verbatim from the data (seed number and real title, section, Chinese quote,
English translation), links "claim N" to its row on the claims page and shows the verdict from the table,
then the discussion. ``:title:`` is optional (default: the first claim's English summary); it is the only part
of the box in the chapter's own catalog.

Inline: {verdict}`27` renders "**wrong** (claim 27)" with the link. On the claims page,
```{seed-claims-table} 003``` renders one seed's rows (each row has the id ``claim-row-N``) and
```{seed-claims-summary}``` the verdict counts. tests/test_claims.py checks the data and every use.

Translated editions (language set, e.g. zh_CN): the text generated here that no chapter's own catalog holds
(the box's heading and quote lines, table headers, verdict words, "Claim N", each row's claim, correction and
evidence) is translated through the claims page's catalog (book/claims.po), into which `make translations`
extracts it. Labels are templates ("{verdict} ({claim})") so a translation also chooses the punctuation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
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
from sphinx.transforms import SphinxTransform
from sphinx.util.docutils import SphinxDirective, SphinxRole
from sphinx.util.i18n import docname_to_domain

DATA = Path(__file__).resolve().parents[1] / "_data" / "claims.yml"
CLAIMS_PAGE = "book/claims"
VERDICTS = ("correct", "partly", "wrong")
FIELDS = {"n", "seed", "section", "quote", "claim", "verdict", "correction", "evidence"}
OPTIONAL = {"translation"}
TABLE_HEADER = ("source", "claim", "verdict", "correction", "evidence")
SUMMARY_HEADER = ("seed", "claims")
# templates: {n} is the claim number; the other {names} are filled with the parts named in fill()
LABELS = ("Claim {n}", "claim {n}", "{claim} — verdict: {verdict}", "{verdict} ({claim})")
HEADINGS = ("What the source post says, checked: ", "What the source posts say, checked: ")  # one seed, several
QUOTE = "Seed {seed} {title}, {section}: 「{quote}」 {english}"
UNTITLED = "[untitled; on {topic}]"
SUMMARY_SEED = "{seed} {title} ({file})"  # a row of the verdict counts
SEED_FIELDS = {"file", "title", "topic", "english"}

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
class Seed:
    """A source post: its file, and its real title or (untitled posts) its topic in its own words."""

    file: str
    title: str = ""
    topic: str = ""
    english: str = ""  # the title or topic in English (the English edition's tooltip)

    def heading(self, tr: Translate = untranslated) -> str:
        """《title》, or the translated "[untitled; on topic]"."""
        if self.title:
            return f"《{self.title}》"
        return tr(UNTITLED).replace("{topic}", self.topic) if self.topic else ""


@dataclass(frozen=True)
class Claims:
    """All claims, numbered 1..N, and the seed ids they come from (id -> file name; titles in `posts`)."""

    seeds: dict[str, str]
    rows: dict[int, Claim]
    posts: dict[str, Seed] = field(default_factory=dict)


def parse_seed(key: str, value: object, where: str) -> Seed:
    """A seed entry: its file name, or a mapping with file, title or topic, and english."""
    if not isinstance(value, dict):
        return Seed(file=str(value))
    if set(value) - SEED_FIELDS or "file" not in value or not (value.get("title") or value.get("topic")):
        raise ClaimsError(f"{where}: seed {key}: needs file and a title (or, untitled, a topic); allowed fields "
                          f"{sorted(SEED_FIELDS)}, got {sorted(value)}")
    return Seed(**{k: str(v) for k, v in value.items()})


def parse_claims(text: str, where: str = str(DATA)) -> Claims:
    """Validate and load the YAML text of the claims file; errors name `where` and the bad entry."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ClaimsError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("seeds"), dict) or not isinstance(doc.get("claims"), list):
        raise ClaimsError(f"{where}: expected a mapping with 'seeds' (mapping) and 'claims' (list)")
    posts = {str(k): parse_seed(str(k), v, where) for k, v in doc["seeds"].items()}
    seeds = {k: s.file for k, s in posts.items()}
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
    return Claims(seeds, rows, posts)


def load_claims(path: Path = DATA) -> Claims:
    """Read and validate the claims file."""
    return parse_claims(path.read_text(encoding="utf-8"), str(path))


def row_id(n: int) -> str:
    """The HTML id (and Sphinx label) of claim n's row on the claims page."""
    return f"claim-row-{n}"


def fill(template: str, **parts: str | nodes.Node) -> list[nodes.Node]:
    """The nodes of a label template: text between the {names}, each name replaced by its part (a translation
    may drop a part, e.g. the English translation of a Chinese quote)."""
    out: list[nodes.Node] = []
    for piece in re.split(r"(\{[a-z]+\})", template):
        name = piece[1:-1] if re.fullmatch(r"\{[a-z]+\}", piece) else None
        if name is None or name not in parts:
            if piece:
                out.append(nodes.Text(piece))
        else:
            part = parts[name]
            out.append(part if isinstance(part, nodes.Node) else nodes.Text(part))
    return out


def seed_label(claims: Claims, seed: str) -> nodes.Node:
    """The seed's number as an abbreviation whose tooltip names the file and the English title."""
    post = claims.posts.get(seed, Seed(file=claims.seeds[seed]))
    tip = f"{post.file}: {post.english}" if post.english else post.file
    return nodes.abbreviation("", seed, explanation=tip)


def quote_line(claims: Claims, claim: Claim, tr: Translate = untranslated) -> nodes.paragraph:
    """The claim quoted verbatim with its seed (number, real title), section and an English translation (else
    the English summary); no source line, so no chapter catalog extracts it: it is translated as a template."""
    post = claims.posts.get(claim.seed, Seed(file=claims.seeds[claim.seed]))
    english = f"(“{claim.translation}”)" if claim.translation else f"— in short: {claim.claim}"
    para = nodes.paragraph(classes=["seed-quote"])
    para += fill(tr(QUOTE), seed=seed_label(claims, claim.seed), title=post.heading(tr), section=claim.section,
                 quote=claim.quote, english=english)
    return para


def claims_messages(claims: Claims) -> list[str]:
    """Every message this extension generates outside the chapters' own catalogs, in catalog order."""
    messages = [*TABLE_HEADER, *SUMMARY_HEADER, *VERDICTS, *LABELS, *HEADINGS, QUOTE, UNTITLED, SUMMARY_SEED]
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
        post = claims.posts.get(seed, Seed(file=name))
        label = cell(tr, SUMMARY_SEED).replace("{seed}", seed).replace("{title}", post.heading(tr))
        label = label.replace("{file}", f"`{name}`")
        lines.append(f"| {label} | {sum(c.values())} | {c['correct']} | {c['partly']} | {c['wrong']} |")
    return "\n".join(lines)


def claim_xref(n: int, text: str) -> addnodes.pending_xref:
    """A :ref: to claim n's row on the claims page."""
    return addnodes.pending_xref("", nodes.inline("", text, classes=["std", "std-ref"]), refdomain="std",
                                 reftype="ref", reftarget=row_id(n), refexplicit=True, refwarn=True)


def verdict_paragraph(claim: Claim, tr: Translate = untranslated) -> nodes.paragraph:
    """'Claim N — verdict: **wrong**', linked, with classes the HTML test reads back."""
    para = nodes.paragraph(classes=["seed-verdict", f"verdict-{claim.verdict}"])
    para += fill(tr("{claim} — verdict: {verdict}"),
                 claim=nodes.strong("", "", claim_xref(claim.n, numbered(tr("Claim {n}"), claim.n))),
                 verdict=nodes.strong("", tr(claim.verdict)))
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
        text_nodes, messages = self.state.inline_text(title, self.lineno)
        heading = nodes.title(title, "", *text_nodes)  # the chapter's catalog translates the title ...
        self.set_source_info(heading)
        heading["seed_heading"] = HEADINGS[len({r.seed for r in rows}) > 1]  # ... AddHeading puts this first
        box += heading
        tr = translator(self.env)
        for row in rows:
            box += quote_line(claims, row, tr)
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


class AddHeading(SphinxTransform):
    """After the chapter's catalog translated a box's title, put the (claims catalog's) heading in front of it."""

    default_priority = 25  # after sphinx.transforms.i18n.Locale (20)

    def apply(self, **kwargs: Any) -> None:
        tr = translator(self.env)
        for heading in self.document.findall(nodes.title):
            if "seed_heading" in heading:
                heading.insert(0, nodes.Text(tr(heading["seed_heading"])))
                del heading["seed_heading"]


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
        span += fill(tr("{verdict} ({claim})"), verdict=nodes.strong("", tr(claim.verdict)),
                     claim=claim_xref(claim.n, numbered(tr("claim {n}"), claim.n)))
        return [span], []


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives and the role."""
    app.add_directive("seed-claim", SeedClaim)
    app.add_directive("seed-claims-table", SeedClaimsTable)
    app.add_directive("seed-claims-summary", SeedClaimsSummary)
    app.add_role("verdict", VerdictRole())
    app.add_transform(AddHeading)
    app.connect("doctree-resolved", add_claims_messages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
