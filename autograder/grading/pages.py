"""HTML pages from the Jinja2 templates in autograder/grading/templates/, always autoescaped."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2


def score(value: Any) -> str:
    """A score for display: at most two decimals, no trailing zeros (0.3333 -> '0.33', 2.0 -> '2')."""
    try:
        return f"{round(float(value), 2):g}"
    except (TypeError, ValueError):
        return str(value)


@cache
def environment() -> jinja2.Environment:
    """The one template environment: package templates, autoescape on for every template, strict names."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("autograder.grading", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["score"] = score
    return env


def render(template: str, **context: Any) -> str:
    """Render one template with `context`."""
    return environment().get_template(template).render(**context)
