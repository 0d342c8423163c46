# Every target creates .venv on first use and installs the pinned project into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MND := $(VENV)/bin/mnd
INSTALLED := $(VENV)/.installed

.PHONY: demo test bench toolchain clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(MND) summary --alpha 0.25 --resolution 32 --classes 10 --channels 1
	$(MND) export --target host --out out/demo --force
	cat out/demo/report.md

test: $(INSTALLED)
	$(PY) -m pytest

bench: $(INSTALLED)
	$(PY) -m tests.bench.run

clean:
	rm -rf $(VENV) runs out
