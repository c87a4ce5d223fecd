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

.PHONY: venv runtime sdk-venvs demo test lint typecheck unit notebooks notebooks-refresh browser-deps test-tools bench audit serve clean grpc-gen fuzz

# $(call uv_install,TARGET): make the venv if needed, then install TARGET (editable) with uv
uv_install = { test -x $(BIN)/python || $(PY) -m venv $(VENV); } \
	&& { $(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.9 \
	     || $(BIN)/python -m pip install -q uv; } \
	&& UV_LINK_MODE=copy $(BIN)/uv pip install --python $(BIN)/python -q -e $(1)

# Pinecone SDKs the conformance script (tests/compat) runs against the embedded server,
# besides 7.3.0 in .venv: one cached venv each under .venv-sdk/<version>/.
SDK_VERSIONS := 8.1.2 9.1.0 10.2.0
SDK_SPEC_8.1.2 := pinecone[asyncio,grpc]==8.1.2
SDK_SPEC_9.1.0 := pinecone==9.1.0
SDK_SPEC_10.2.0 := pinecone==10.2.0
SDK_STAMPS := $(foreach v,$(SDK_VERSIONS),.venv-sdk/$(v)/.installed)

$(STAMP): pyproject.toml
	$(call uv_install,".[dev]")
	rm -f $(VENV)/.installed-* $(VENV)/.runtime-* && touch $(STAMP) $(RUNTIME)

# The runtime dependencies only; nothing to do when the dev extra is already installed.
$(RUNTIME): pyproject.toml
	@if [ -e $(STAMP) ]; then touch $(RUNTIME); else \
	  $(call uv_install,".") && rm -f $(VENV)/.runtime-* && touch $(RUNTIME); fi

venv: $(STAMP)

runtime: $(RUNTIME)

## One venv per Pinecone SDK version for the compatibility matrix; reused when present.
sdk-venvs: $(SDK_STAMPS)

.venv-sdk/%/.installed:
	$(BIN)/uv venv -q --python $(BIN)/python .venv-sdk/$*
	UV_LINK_MODE=copy $(BIN)/uv pip install -q --python .venv-sdk/$*/bin/python "$(SDK_SPEC_$*)"
	touch $@

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
test: venv lint typecheck browser-deps test-tools sdk-venvs
	$(BIN)/python tests/reliability/run_audit.py
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check tenant_rag tests benchmarks examples scripts
	$(BIN)/ruff format --check tenant_rag tests benchmarks examples scripts

typecheck: venv
	$(BIN)/mypy tenant_rag

format: venv
	$(BIN)/ruff check --fix tenant_rag tests benchmarks examples scripts
	$(BIN)/ruff format tenant_rag tests benchmarks examples scripts

## Headless Chromium for the chatbot page's end-to-end test (Debian package).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "browser-deps: could not install chromium; the browser test will be skipped"; \
	  else echo "browser-deps: chromium missing and not root; the browser test will be skipped"; fi; }

## strace, for the test that counts the embedded server's fsyncs per acknowledged write in each
## durability mode (tests/reliability/test_durability_modes.py); Debian's package, as root.
test-tools:
	@command -v strace >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null) \
	      || echo "test-tools: could not install strace; the fsync-count test will be skipped"; \
	  else echo "test-tools: strace missing and not root; the fsync-count test will be skipped"; fi; }

## Longer schema-driven fuzzing of the embedded server, REST and gRPC (tests/fuzz): FUZZ_EXAMPLES
## generated cases per operation and mode (make test runs 25), a fresh seed each run unless
## FUZZ_SEED is given; a failure prints the request that reproduces it.
FUZZ_EXAMPLES ?= 300
FUZZ_SEED ?= $(shell date +%s)
fuzz: venv
	@echo "fuzz: $(FUZZ_EXAMPLES) cases per operation, seed $(FUZZ_SEED) (FUZZ_SEED=$(FUZZ_SEED) repeats it)"
	TENANT_RAG_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) TENANT_RAG_FUZZ_SEED=$(FUZZ_SEED) \
	  $(BIN)/python -m pytest -o timeout=3600 -p no:cacheprovider tests/fuzz $(PYTEST_ARGS)

audit: venv
	$(BIN)/pip-audit --skip-editable --progress-spinner off

bench: venv
	$(BIN)/python benchmarks/run_all.py

serve: venv
	$(BIN)/tenant-rag serve

## Regenerate tenant_rag/local/api/_grpc_gen/ from ../shared/pinecone-api/ (see the script's
## docstring for where 2026-07 comes from; PROTO_2026_07=path/to/db_data_2026-07.proto).
grpc-gen: venv
	$(BIN)/python scripts/gen_grpc.py $(if $(PROTO_2026_07),--proto-2026-07 $(PROTO_2026_07))

clean:
	rm -rf $(VENV) .venv-sdk .tenant_rag .pytest_cache .mypy_cache .ruff_cache
