"""Which book section teaches each exercise function: the feedback page links every question to it.

Names travel: this is the README's names-travel table (topic, `book/<page>.md`, section label, exercise
function), kept as data here because the package ships without the README; tests/grading/outputs/test_pages.py
checks the two agree. A label is also the HTML anchor the book build gives that section.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

#: The book build the links point at by default: `make book` writes it here in the repository.
BUILT_BOOK = Path(__file__).resolve().parents[3] / "_build" / "html"
#: A published book's address instead (`grade --book-url` sets it), e.g. https://course.example.org/book
URL_ENV = "COURSE_BOOK_URL"


@dataclass(frozen=True)
class Section:
    """One book section: its topic (as the README names it), page (book/<page>.md) and label."""

    topic: str
    page: str
    label: str


#: exercise function -> the section that teaches it (README "names travel" table).
SECTIONS = {
    "linear_backward": Section("Linear layer", "core_concepts", "sec-core-chain-rule"),
    "relu_backward": Section("Activations", "theory", "sec-theory-activation-derivatives"),
    "sigmoid_backward": Section("Activations", "theory", "sec-theory-activation-derivatives"),
    "tanh_backward": Section("Activations", "theory", "sec-theory-activation-derivatives"),
    "softmax_cross_entropy": Section("Cross-entropy", "core_concepts", "sec-core-chain-rule"),
    "mse_loss": Section("MSE", "code", "sec-code-seed-000"),
    "mlp_loss_and_grads": Section("MLP", "code", "sec-code-deep-mlp"),
    "rnn_backward": Section("BPTT", "theory", "sec-theory-rnn"),
    "sgd_step": Section("SGD momentum", "optimizers", "sec-opt-momentum"),
    "rmsprop_step": Section("RMSprop", "optimizers", "sec-opt-rmsprop"),
    "adam_step": Section("Adam", "optimizers", "sec-opt-adam"),
    "adamw_step": Section("AdamW", "optimizers", "sec-opt-adamw"),
    "grad_norm": Section("Global norm", "clipping", "sec-clip-torch-semantics"),
    "clip_grad_norm": Section("Clipping", "clipping", "sec-clip-torch-semantics"),
    "clip_grad_value": Section("Value clipping", "clipping", "sec-clip-value-vs-norm"),
    "train": Section("Training loop", "code", "sec-code-clipping-curves"),
}


def section_for(functions: tuple[str, ...]) -> Section | None:
    """The section of the first of a question's functions that has one (a forward pass shares its backward's)."""
    for name in functions:
        if name in SECTIONS:
            return SECTIONS[name]
    return None


def book_url() -> str | None:
    """The published book's base URL ($COURSE_BOOK_URL), or None for the local build."""
    return os.environ.get(URL_ENV) or None


def book_base(page_dir: Path, base_url: str | None) -> str:
    """Where links point: `base_url` (a published book) or the local build, relative to the page's folder."""
    if base_url:
        return base_url.rstrip("/")
    return Path(os.path.relpath(BUILT_BOOK, page_dir)).as_posix()


def link(section: Section, base: str) -> str:
    """The URL of a section in the book at `base`: <base>/book/<page>.html#<label>."""
    return f"{base}/book/{quote(section.page)}.html#{quote(section.label)}"
