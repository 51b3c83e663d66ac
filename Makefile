# The two commands a person needs: `make run` (desktop mode) and `make test` (whole suite).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup lint bench clean assets

run: setup
	$(BIN)/pixtools desktop

test: setup
	bash scripts/test-deps.sh
	$(BIN)/python -m pytest --cov --cov-report=term $(PYTEST_ARGS)

setup: $(VENV)/.installed

# The page's browser assets (htmx, the font) are committed under pixtools/static/vendor;
# after changing package.json or package-lock.json, refresh them with npm.
assets:
	bash scripts/vendor-assets.sh

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[ml,dev]'
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage node_modules
