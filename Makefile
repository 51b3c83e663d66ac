# The two commands a person needs: `make run` (desktop mode) and `make test` (whole suite).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

VENDOR := pixtools/static/vendor

.PHONY: run test setup lint bench clean

run: setup
	$(BIN)/pixtools desktop

test: setup
	bash scripts/test-deps.sh
	$(BIN)/python -m pytest --cov --cov-report=term $(PYTEST_ARGS)

setup: $(VENV)/.installed $(VENDOR)/.installed

# The page's browser assets (htmx, the font) from the npm registry, served by the app.
$(VENDOR)/.installed: package.json package-lock.json scripts/vendor-assets.sh
	bash scripts/vendor-assets.sh
	touch $@

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[ml,dev]'
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage node_modules $(VENDOR)
