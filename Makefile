# Two commands on a fresh machine: `make demo` (set up, then annotate the example questions on the
# embedded model) and `make test` (set up, then run the test suite). Everything lives in .venv/.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup system-deps demo test test-fast clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch is pinned first: the pin takes the CPU build from local disk, an open range would fetch CUDA.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[all]'
	touch $@

setup: $(VENV)/.installed

# Debian packages the integration tests use (PostgreSQL server, Chromium for the viewer tests).
system-deps:
	@if ! command -v chromium >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql chromium >/dev/null; \
	  else echo "note: install Debian packages 'postgresql chromium' to run every integration test"; fi; \
	fi

# One reflection round keeps the demo near 10 minutes on 2 cores; rerunning continues where it stopped.
demo: setup
	$(BIN)/scireflect run examples/questions.jsonl --max-rounds 1

# pytest's exit code 5 (no tests collected) counts as a failure.
test: setup system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

test-fast: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .scireflect .pytest_cache
