# The two commands: `make run` starts the whole product, `make test` checks it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv browser lint typecheck pytest contract worker api bench bench-lateness bench-scale clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/python -m stack.run

worker: venv
	$(BIN)/python worker.py

api: venv
	$(BIN)/uvicorn api.main:app --host $${CASE_API_HOST:-127.0.0.1} --port $${CASE_API_PORT:-8000}

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

# The report tests open the HTML report in headless Chromium (the Debian package, never
# a downloaded browser) with a CJK font for its Chinese labels.
browser:
	@command -v chromium >/dev/null && dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || \
		(apt-get update && apt-get install -y chromium fonts-wqy-microhei)

pytest: venv browser
	$(BIN)/pytest

test: lint typecheck pytest

# The API contract with schemathesis's coverage phase too: CI's step after `make test`.
contract: venv
	CASE_FUZZ_PHASES=examples,coverage,fuzzing,stateful $(BIN)/pytest tests/test_api_contract.py -k schemathesis

bench: venv
	$(BIN)/python -m bench.cases

# Deadline lateness at a rising rate, the product against bare Temporal (bench/README.md).
bench-lateness: venv
	$(BIN)/python -m bench.lateness

# 50,000 open cases on one worker: memory, open rate, database size (bench/README.md).
bench-scale: venv
	$(BIN)/python -m bench.scale

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
