# Quick start targets. Each creates (or reuses) the virtual environment .venv
# from the project's own files, then runs.
PYTHON ?= python3
VENV ?= .venv
PIP = $(VENV)/bin/pip

# pytest keeps each test module with its assertions rewritten in __pycache__, and Python the
# compiled project modules, only where bytecode may be written; with PYTHONDONTWRITEBYTECODE
# set, every pytest-xdist worker parses and rewrites every test module again on every run
# (about 3 s of CPU per worker).
unexport PYTHONDONTWRITEBYTECODE

# pytest-xdist: two workers per CPU (tests/conftest.py says why); tests marked serial
# share one worker.
PYTEST_PARALLEL ?= -n auto --dist loadgroup

.PHONY: demo test test-slow test-all test-unordered soak docs venv clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check --upgrade pip
	$(PIP) install --quiet --disable-pip-version-check -e ".[sim,test,doc,bench]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/run_make_comcam_bias --simulate

# The fast tier: everything but the tests marked slow.
test: venv
	$(VENV)/bin/python -m pytest $(PYTEST_PARALLEL) -m "not slow"

# Only the slow tier (long end-to-end runs).
test-slow: venv
	$(VENV)/bin/python -m pytest $(PYTEST_PARALLEL) -m slow

# Both tiers.
test-all: venv
	$(VENV)/bin/python -m pytest $(PYTEST_PARALLEL)

# The control-plane, script, mock and ingest tests (fast tier) with the simulated
# SAL delivering messages of different topics in any order, as Kafka does.
# SEED picks the random delays, so that a failure reproduces.
SEED ?= 1
UNORDERED_TESTS ?= tests/simsal tests/observatory_control tests/sim tests/script tests/calibscript tests/testing \
	tests/calib/test_ingest_sal.py tests/calib/test_ocps.py tests/cli
# Left out: modules that exchange no message (configuration checks, command-line options)
# and the pipetask run, whose subject is the pipetask runner (the same script stages run
# in-process in tests/script).
UNORDERED_SKIP ?= --ignore=tests/script/test_configure.py --ignore=tests/script/test_configure_property.py \
	--ignore=tests/script/test_pipetask_integration.py --ignore=tests/cli/test_cli_options.py
test-unordered: venv
	CALIBSCRIPTS_SIM_DELIVERY=unordered CALIBSCRIPTS_SIM_DELIVERY_SEED=$(SEED) \
		$(VENV)/bin/python -m pytest $(PYTEST_PARALLEL) -m "not slow" $(UNORDERED_SKIP) $(UNORDERED_TESTS)

# The soak: SOAK_SCHEDULES drawn fault schedules (script, configuration, faults at random
# instants) on SOAK_JOBS worker processes, with invariants checked after each run. The summary
# (schedules, faults by kind, violations) is printed and written to SOAK_JSON; exit 1 on a violation.
# SOAK_SEED (default SEED) picks the schedules; a failing one replays with --replay <its seed>.
SOAK_SCHEDULES ?= 1000
SOAK_SEED ?= $(SEED)
SOAK_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SOAK_JSON ?= soak_summary.json
soak: venv
	CALIBSCRIPTS_SAL=sim $(VENV)/bin/python -m lsst.ts.calibscripts.testing.soak \
		--schedules $(SOAK_SCHEDULES) --seed $(SOAK_SEED) --jobs $(SOAK_JOBS) --json $(SOAK_JSON)

docs: venv
	$(VENV)/bin/python -m sphinx -W -b html doc doc/_build/html

clean:
	rm -rf $(VENV) build dist sim_observatory calib_reports doc/_build soak_summary.json
