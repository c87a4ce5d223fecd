# tenant_rag developer commands. Every target creates or reuses .venv, so a
# fresh machine needs nothing installed by hand.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: venv sdk-venvs demo test lint typecheck unit notebooks browser-deps bench audit serve clean grpc-gen

# Pinecone SDKs the conformance script (tests/compat) runs against the embedded server,
# besides 7.3.0 in .venv: one cached venv each under .venv-sdk/<version>/.
SDK_VERSIONS := 8.1.2 9.1.0 10.2.0
SDK_SPEC_8.1.2 := pinecone[asyncio,grpc]==8.1.2
SDK_SPEC_9.1.0 := pinecone==9.1.0
SDK_SPEC_10.2.0 := pinecone==10.2.0
SDK_STAMPS := $(foreach v,$(SDK_VERSIONS),.venv-sdk/$(v)/.installed)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.9 || $(BIN)/python -m pip install -q uv
	UV_LINK_MODE=copy $(BIN)/uv pip install --python $(BIN)/python -q -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

## One venv per Pinecone SDK version for the compatibility matrix; reused when present.
sdk-venvs: $(SDK_STAMPS)

.venv-sdk/%/.installed:
	$(BIN)/uv venv -q --python $(BIN)/python .venv-sdk/$*
	UV_LINK_MODE=copy $(BIN)/uv pip install -q --python .venv-sdk/$*/bin/python "$(SDK_SPEC_$*)"
	touch $@

## The main job on the embedded default: two tenants, ingest, ask, offboard.
demo: venv
	$(BIN)/tenant-rag demo

## Lint, type-check, audit dependencies (fails on a known vulnerability; says NOT CHECKED when
## PyPI's vulnerability API is unreachable), then every test (unit, integration, notebooks,
## browser, reliability). TENANT_RAG_SOAK=1 makes the reliability suite run long.
test: venv lint typecheck browser-deps sdk-venvs
	$(BIN)/python tests/reliability/run_audit.py
	$(BIN)/python -m pytest --nbmake tests notebooks $(PYTEST_ARGS)

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
