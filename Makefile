# tenant_rag developer commands. Every target creates or reuses .venv, so a
# fresh machine needs nothing installed by hand.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
HASH    := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
# STAMP: the package with its dev extra (tests, linters, notebooks); RUNTIME: the package alone
STAMP   := $(VENV)/.installed-$(HASH)
RUNTIME := $(VENV)/.runtime-$(HASH)
PYTEST_ARGS ?=

.PHONY: venv runtime demo test lint typecheck unit notebooks notebooks-refresh browser-deps bench audit serve clean

# $(call uv_install,TARGET): make the venv if needed, then install TARGET (editable) with uv
uv_install = { test -x $(BIN)/python || $(PY) -m venv $(VENV); } \
	&& { $(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.9 \
	     || $(BIN)/python -m pip install -q uv; } \
	&& UV_LINK_MODE=copy $(BIN)/uv pip install --python $(BIN)/python -q -e $(1)

$(STAMP): pyproject.toml
	$(call uv_install,".[dev]")
	rm -f $(VENV)/.installed-* $(VENV)/.runtime-* && touch $(STAMP) $(RUNTIME)

# The runtime dependencies only; nothing to do when the dev extra is already installed.
$(RUNTIME): pyproject.toml
	@if [ -e $(STAMP) ]; then touch $(RUNTIME); else \
	  $(call uv_install,".") && rm -f $(VENV)/.runtime-* && touch $(RUNTIME); fi

venv: $(STAMP)

runtime: $(RUNTIME)

## The main job on the embedded default: two tenants, ingest, ask, offboard. Installs the
## package's runtime dependencies only (no test or lint tools).
demo: runtime
	$(BIN)/tenant-rag demo

## Open the notebooks in JupyterLab (the dev extra installs it).
notebooks: venv
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 notebooks/

## Run every notebook and store its outputs in it (commit them; `make test` checks they are
## fresh).
notebooks-refresh: venv
	$(BIN)/python tests/test_notebooks.py --write

## Lint, type-check, audit dependencies (fails on a known vulnerability; says NOT CHECKED when
## PyPI's vulnerability API is unreachable), then every test (unit, integration, notebooks,
## browser, reliability). TENANT_RAG_SOAK=1 makes the reliability suite run long.
test: venv lint typecheck browser-deps
	$(BIN)/python tests/reliability/run_audit.py
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check tenant_rag tests benchmarks examples
	$(BIN)/ruff format --check tenant_rag tests benchmarks examples

typecheck: venv
	$(BIN)/mypy tenant_rag

format: venv
	$(BIN)/ruff check --fix tenant_rag tests benchmarks examples
	$(BIN)/ruff format tenant_rag tests benchmarks examples

## Headless Chromium for the chatbot page's end-to-end test (Debian package).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "browser-deps: could not install chromium; the browser test will be skipped"; \
	  else echo "browser-deps: chromium missing and not root; the browser test will be skipped"; fi; }

audit: venv
	$(BIN)/pip-audit --skip-editable --progress-spinner off

bench: venv
	$(BIN)/python benchmarks/run_all.py

serve: venv
	$(BIN)/tenant-rag serve

clean:
	rm -rf $(VENV) .tenant_rag .pytest_cache .mypy_cache .ruff_cache
