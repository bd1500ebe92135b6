# The two set-up commands are `make demo` and `make test`; each creates the venv it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= data/qsnews.db

.PHONY: demo test crawl serve bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Re-install when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -e '.[test]'
	touch $@

$(VENV)/.bench-installed: pyproject.toml | $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/qsnews demo --db $(DB)

# System packages the tests drive (redis-server, chromium) are installed when missing.
test: $(VENV)/.installed
	sh deploy/ensure-redis.sh
	sh tests/browser/ensure_chromium.sh
	$(BIN)/python -m pytest -q

crawl: $(VENV)/.installed
	$(BIN)/qsnews crawl --db $(DB)

serve: $(VENV)/.installed
	$(BIN)/qsnews serve --db $(DB)

# Every benchmark in bench/, one dated block of results appended to BENCHMARKS.md (bench/run_all.py).
bench: $(VENV)/.bench-installed
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) data build *.egg-info
