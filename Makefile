# posekit: two commands on a fresh machine.
#   make test   set-up (once) + the test suite
#   make demo   set-up (once) + the end-to-end demo on embedded data
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/python -m pip --disable-pip-version-check
STAMP   := $(VENV)/.posekit-installed
REQS    := requirements/torch.txt requirements/base.txt requirements/nodeps.txt setup.cfg pyproject.toml

.PHONY: setup test demo lint bench clean

setup: $(STAMP)

# Re-runs only when a requirement file changes: a second `make test` reinstalls nothing.
$(STAMP): $(REQS)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -q -r requirements/torch.txt
	$(PIP) install -q -r requirements/base.txt -c requirements/torch.txt
	$(PIP) install -q --no-deps -r requirements/nodeps.txt
	$(PIP) install -q --no-deps --no-binary xtcocotools --no-build-isolation xtcocotools==1.14.3
	$(PIP) install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

demo: $(STAMP)
	$(BIN)/posekit demo --out demo_out

lint: $(STAMP)
	$(BIN)/ruff check posekit graphs annotations_tools tests bench

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache
