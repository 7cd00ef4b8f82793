# robot_rl — every target sets up .venv itself on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: install test test-all lint format demo bench wheel-check clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,ray,ros2]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install robot_rl with pinned dependencies

lint: $(STAMP)  ## ruff (lint + format check), mypy and the import layers (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint  ## lint, then the test suite (slow tests excluded); what CI runs
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup -m "not slow"

test-all: lint  ## every test, slow ones included
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup

wheel-check:  ## build the wheel, install it into a fresh venv, use it from a temporary directory
	PYTHON=$(PYTHON) bash .ci/wheel_check

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: $(STAMP)  ## the main job: train, evaluate, export and verify the grasping policy
	$(BIN)/robot-rl demo

bench: $(STAMP)  ## environment speed benchmarks
	$(BIN)/robot-rl bench env robot_rl/PandaGrasp-v0
	$(BIN)/robot-rl bench env robot_rl/MobileNav-v0

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
