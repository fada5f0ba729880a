# The two commands of the README:  `make book`  and  `make test`.
# Each sets up what it needs (a virtual environment at .venv unless one is active) and is cheap to rerun.
PYTHON ?= python3
ifdef VIRTUAL_ENV
BIN := $(VIRTUAL_ENV)/bin
else
BIN := .venv/bin
endif
STAMP := $(BIN)/../.course-installed

.PHONY: book test release bench clean
.DEFAULT_GOAL := help

help:
	@echo "make book   build the book into _build/html (executes every chapter, cached)"
	@echo "make test   run the whole test suite (builds the book from clean in a temp dir)"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv .venv
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e .
	@touch $@

book: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/jupyter-book build . -W --keep-going

test: $(STAMP)
	@bash .ci/system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Instructor helpers (not part of the two set-up commands).
release: $(STAMP)
	$(BIN)/python -m autograder release

bench: $(STAMP)
	$(BIN)/python benchmarks/grading.py

clean:
	rm -rf _build
