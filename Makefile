# Quick start targets. Each creates (or reuses) the virtual environment .venv
# from the project's own files, then runs.
PYTHON ?= python3
VENV ?= .venv
PIP = $(VENV)/bin/pip

.PHONY: demo test docs venv clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[sim,test,doc,bench]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/run_make_comcam_bias --simulate

test: venv
	$(VENV)/bin/python -m pytest

docs: venv
	$(VENV)/bin/python -m sphinx -W -b html doc doc/_build/html

clean:
	rm -rf $(VENV) build dist sim_observatory calib_reports doc/_build
