"""Where the tests find the repository and the adversarial corpus, wherever a test file lies."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
CORPUS = TESTS / "corpus"
