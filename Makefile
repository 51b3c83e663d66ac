# The two commands a person needs: `make run` (desktop mode) and `make test` (whole suite).
# Both install from the lock (uv.lock, exported to requirements/*.txt) through
# scripts/install-deps.sh, as the Dockerfile and CI do.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# What `make test` installs: `dev` (with torch), or `test` for a Python with no torch wheel
# at hand, e.g. `make test PYTHON=python3.13 VENV=.venv-3.13 TEST_DEPS=test`.
TEST_DEPS ?= dev

.PHONY: run test setup lint lock assets bench clean

run: $(VENV)/.installed-ml
	$(BIN)/pixtools desktop

test: $(VENV)/.installed-$(TEST_DEPS)
	bash scripts/test-deps.sh
	$(BIN)/python -m pytest --cov --cov-report=term $(PYTEST_ARGS)

setup: $(VENV)/.installed-$(TEST_DEPS)

# runtime + ml for `make run`; + the dev tools for `make test`. The project itself is an
# editable install on top, without dependencies (they all come from the lock).
$(VENV)/.installed-%: requirements/%.txt requirements/torch.txt uv.lock scripts/install-deps.sh pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	bash scripts/install-deps.sh $(BIN)/python $*
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

lint: $(VENV)/.installed-$(TEST_DEPS)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# After changing dependencies in pyproject.toml: re-resolve uv.lock and its exports.
# `make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed versions.
lock: $(VENV)/.installed-$(TEST_DEPS)
	UV=$(BIN)/uv bash scripts/lock.sh $(LOCK_ARGS)

# The page's browser assets (htmx, the font) are committed under pixtools/static/vendor;
# after changing package.json or package-lock.json, refresh them with npm.
assets:
	bash scripts/vendor-assets.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage node_modules
