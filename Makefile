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

# The demo: 10 one-step questions (examples/demo.jsonl) on which the embedded 135M model reaches all three
# stages, about 1 minute on 2 cores (3 with setup on a fresh clone). Generation settings are pinned (the run is deterministic); require_steps
# makes a wrong derivation step fail the attempt, so an accepted trace has none. Rerunning skips finished
# questions; `scireflect run examples/questions.jsonl` is the harder set (36 questions, most rejected).
DEMO_ENV := SCIREFLECT_MAX_TOKENS=256 SCIREFLECT_TEMPERATURE=0.2 SCIREFLECT_SEED=0 SCIREFLECT_REQUIRE_STEPS=true
demo: setup
	$(DEMO_ENV) $(BIN)/scireflect run examples/demo.jsonl --max-rounds 1
	@echo
	@echo "Look at what happened:"
	@echo "  $(BIN)/scireflect traces serve              # the viewer, on http://127.0.0.1:8765"
	@echo "  $(BIN)/scireflect traces list               # every trace with its status and stage"
	@echo "  $(BIN)/scireflect traces show TRACE_ID      # every node: prompt, output, verdicts, tokens, latency"
	@echo "  $(BIN)/scireflect runs show RUN_ID          # counts per status, tokens per agent (ids: runs list)"

# pytest's exit code 5 (no tests collected) counts as a failure.
test: setup system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

test-fast: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .scireflect .pytest_cache
