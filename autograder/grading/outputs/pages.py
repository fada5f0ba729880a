"""HTML pages from the Jinja2 templates in autograder/grading/outputs/templates/, always autoescaped."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

import jinja2


def score(value: Any) -> str:
    """A score for display: at most two decimals, no trailing zeros (0.3333 -> '0.33', 2.0 -> '2')."""
    try:
        return f"{round(float(value), 2):g}"
    except (TypeError, ValueError):
        return str(value)


def case_label(seed: int | None) -> str:
    """A short label for a student's hidden inputs ('K-3F9A2C'): enough to quote, unlike a 19-digit seed."""
    if seed is None:
        return ""
    return "K-" + hashlib.sha256(f"case-label:{seed}".encode()).hexdigest()[:6].upper()


@cache
def environment() -> jinja2.Environment:
    """The one template environment: package templates, autoescape on for every template, strict names."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("autograder.grading.outputs", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["score"] = score
    return env


def render(template: str, **context: Any) -> str:
    """Render one template with `context`."""
    return environment().get_template(template).render(**context)
