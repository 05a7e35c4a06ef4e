# Quick start targets. Each creates (or reuses) the virtual environment .venv
# from the project's own files, then runs. pip installs without compiling every module of
# every dependency (half of the install's time); Python compiles and keeps a module's
# bytecode when a process first imports it.
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

.PHONY: demo test test-slow test-all soak docs venv bench-env clean

# Imported once after the install, so that their bytecode is compiled once: otherwise each of
# the test workers (and the demo's pipetask jobs) compiles the same modules again on a new
# environment's first run.
WARM_IMPORTS = import pytest, xdist, pytest_asyncio, hypothesis, jsonschema, sqlalchemy, \
	matplotlib.figure, astropy.io.fits, astropy.time, lsst.daf.butler, lsst.pipe.base, \
	lsst.ctrl.mpexec.cli.pipetask, lsst.ts.calibscripts.sim.observatory

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check --upgrade pip
	$(PIP) install --quiet --disable-pip-version-check --no-compile -e ".[sim,test,doc]"
	$(VENV)/bin/python -c "$(WARM_IMPORTS)"
	touch $@

venv: $(VENV)/.installed

# The benchmarks' extra (ccdproc, which bench/bench_combine.py compares with) on top of the
# environment; the tests and the demo do not need it.
bench-env: venv
	$(PIP) install --quiet --disable-pip-version-check --no-compile -e ".[sim,test,doc,bench]"

# The README's demo, with the simulated camera and OODS ten times faster than real time (the
# frames' readout and the ingest latency; the jobs run as they run).
demo: venv
	$(VENV)/bin/run_make_comcam_bias --simulate --time-scale 0.1

# The simulated SAL's delivery mode in the fast tier: unordered, as Kafka delivers (samples of
# one topic in order, of different topics in any order); SEED picks the random delays, so that
# a failure reproduces (make test SEED=7). The slow tier and the demo run in the simulated SAL's
# default, ordered mode, so CI runs both modes. make test DELIVERY=ordered for the other one.
DELIVERY ?= unordered
SEED ?= 1

# The fast tier: everything but the tests marked slow.
test: venv
	CALIBSCRIPTS_SIM_DELIVERY=$(DELIVERY) CALIBSCRIPTS_SIM_DELIVERY_SEED=$(SEED) $(VENV)/bin/python -m pytest $(PYTEST_PARALLEL) -m "not slow"

# Only the slow tier (long end-to-end runs).
test-slow: venv
	$(VENV)/bin/python -m pytest $(PYTEST_PARALLEL) -m slow

# Both tiers.
test-all: venv
	$(VENV)/bin/python -m pytest $(PYTEST_PARALLEL)

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
