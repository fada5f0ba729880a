# The two commands of the README:  `make book`  and  `make test`.
# Each sets up what it needs (a virtual environment at .venv unless one is active) and is cheap to rerun.
PYTHON ?= python3
ifdef VIRTUAL_ENV
BIN := $(VIRTUAL_ENV)/bin
else
BIN := .venv/bin
endif
STAMP := $(BIN)/../.course-installed
# MathJax (Node), which typesets the book's formulas at build time: package.json, pinned by package-lock.json
NODE_STAMP := node_modules/.course-installed

.PHONY: book test check lint release bench clean translations mutation
.DEFAULT_GOAL := help

help:
	@echo "make book   build the book into _build/html and its Chinese edition into _build/html/zh_CN (executes every chapter, cached)"
	@echo "make test   run the whole test suite (builds the book from clean in a temp dir)"
	@echo "make check  the contributor's fast loop: ruff, mypy and the unit tests (no book build, browser or sandbox corpora)"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv .venv
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e .
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@bash .ci/system-deps node
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

book: $(STAMP) $(NODE_STAMP)
	OMP_NUM_THREADS=1 $(BIN)/jupyter-book build . -W --keep-going
	$(BIN)/python book/_ext/build_zh.py html --build-dir _build

# Two pytest processes side by side, one per core (tests/lanes.py says how the suite is split); PYTEST_ARGS go to both.
# ruff first (a second); mypy (a minute, cold) runs in the lanes, once the book lane is done (--mypy).
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	@bash .ci/system-deps
	$(BIN)/python tests/lanes.py --mypy $(PYTEST_ARGS)

# The fast loop for contributors: lint, types and every test not marked slow, browser or gpu (no book build,
# no browser, no sandboxed corpora, no SIMD sweep). Run `make test` before handing work in.
check: $(STAMP) $(NODE_STAMP) lint
	$(BIN)/python tests/lanes.py --fast -q -m "not slow and not browser and not gpu" $(PYTEST_ARGS)

# Part of `make test`: ruff and mypy, configured in pyproject.toml, must be clean.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Instructor helpers (not part of the two set-up commands).
release: $(STAMP)
	$(BIN)/python -m autograder release

# After an English edit: re-extract the messages and merge them into book/locale/zh_CN (translators then fill
# the new and fuzzy ones; tests/test_translations.py says which). Reuses the English build's execution cache.
translations: $(STAMP) $(NODE_STAMP)
	OMP_NUM_THREADS=1 $(BIN)/jupyter-book build . -W --keep-going
	$(BIN)/python book/_ext/build_zh.py translations --build-dir _build

# Mutation testing of the small trust-critical modules listed under [tool.mutmut] in pyproject.toml
# (minutes; the tool is pinned apart, in requirements-mutation.txt). `mutmut results` lists survivors.
mutation: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-mutation.txt
	@# a throw-away HOME: a mutant of key.key_path that ignores $$XDG_CONFIG_HOME must not write a key into yours
	HOME="$$(mktemp -d)" $(BIN)/python -m mutmut run --max-children 2

bench: $(STAMP)
	$(BIN)/python benchmarks/grading.py

clean:
	rm -rf _build
