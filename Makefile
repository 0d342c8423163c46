# Every target creates .venv on first use and installs the pinned project into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MND := $(VENV)/bin/mnd
INSTALLED := $(VENV)/.installed
# Every Python package, with its hashes, for .venv and the docker/ image alike; regenerate with `make lock`.
LOCK := requirements.lock
PIPTOOLS := /tmp/mnd-piptools
PIP_COMPILE := pip-compile --extra cpu --extra ray --extra test --generate-hashes --allow-unsafe --strip-extras --output-file $(LOCK) pyproject.toml

# The Debian packages each target needs come from one table, targets/toolchain.py (run with $(PYTHON), no .venv
# needed): `demo` the host and cortex-m4 targets', `all` every target's and the test suite's.
TOOLCHAIN := $(PYTHON) targets/toolchain.py
APT_GET ?= apt-get
SUDO ?= $(if $(filter 0,$(shell id -u)),,sudo)
BINFMT := /proc/sys/fs/binfmt_misc

.PHONY: demo test bench toolchain demo-toolchain print-demo-packages clean docker docker-test lock

# The locked packages (hashes checked), then the project itself, editable, built with the lock's setuptools.
$(INSTALLED): pyproject.toml setup.py $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(INSTALLED)

demo: $(INSTALLED) demo-toolchain
	$(MND) summary --alpha 0.25 --resolution 32 --classes 10 --channels 1
	$(MND) export --target host --out out/demo --force
	$(MND) export --target cortex-m4 --out out/demo-cortex-m4 --force
	cat out/demo/report.md out/demo-cortex-m4/report.md
	@echo "HTML reports with plots: $$(pwd)/out/demo/report.html $$(pwd)/out/demo-cortex-m4/report.html"

# Regenerates $(LOCK) from pyproject.toml's pins with pip-tools in a throwaway venv, from PyPI alone (the local pip
# configuration's extra indexes and find-links are ignored, so every hash is PyPI's).
lock:
	$(PYTHON) -m venv $(PIPTOOLS)
	$(PIPTOOLS)/bin/pip install --quiet pip-tools==7.6.2
	env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL PIP_CONFIG_FILE=/dev/null \
	  CUSTOM_COMPILE_COMMAND="make lock  (= $(PIP_COMPILE), pip-tools 7.6.2)" $(PIPTOOLS)/bin/$(PIP_COMPILE)

# The toolchain image `mnd` (docker/build.sh: docker, else buildah; IMAGE, BASE_IMAGE, STORAGE, PIP_CACHE settings).
docker:
	docker/build.sh

# Builds the image in a private storage, runs `mnd doctor` and a cortex-m4 export in it, compares with this host.
docker-test: $(INSTALLED) toolchain
	MND_REQUIRE_TOOLS=1 $(PY) -m pytest -m container tests/container

# apt-get installs the packages of $(1) (demo or all) that are missing here, and nothing when none is.
apt_install = missing="$$($(TOOLCHAIN) missing $(1))" || exit 1; \
  if [ -n "$$missing" ]; then \
    echo "installing:" $$missing; \
    $(SUDO) $(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) $(APT_GET) install -y -qq $$missing; \
  fi

# What `make demo` needs from Debian: qemu-system-arm, the Arm GCC with newlib, the host gcc (QEMU's plugin).
demo-toolchain:
	@$(call apt_install,demo)

print-demo-packages:
	@$(TOOLCHAIN) packages demo

# Every target's tools (Cortex-M; the arm64 boards: debootstrap, qemu-user-static, the aarch64 cross compiler, ssh;
# Android: adb) and the test suite's (sshd, buildah, podman and runc for the docker/ image without a Docker engine,
# chromium for the HTML report's test); then qemu-aarch64 registered with binfmt_misc (flags F) for the emulated
# arm64 board.
toolchain:
	@$(call apt_install,all)
	@if [ ! -e $(BINFMT)/status ]; then \
	    echo "mounting binfmt_misc"; $(SUDO) mount -t binfmt_misc binfmt_misc $(BINFMT) || exit 1; \
	  fi; \
	  if [ ! -e $(BINFMT)/qemu-aarch64 ]; then \
	    echo "registering qemu-aarch64 with binfmt_misc"; \
	    $(SUDO) sh -c 'cat /usr/lib/binfmt.d/qemu-aarch64.conf > $(BINFMT)/register' || exit 1; \
	  fi

# Two pytest-xdist workers, a test file per worker at a time (module fixtures are built once), in the order
# tests/conftest.py gives (xdist would otherwise start the files with the most tests first); the slowest 30 tests
# are listed at the end. TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
test: $(INSTALLED) toolchain
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: $(INSTALLED)
	$(PY) -m tests.bench.run

clean:
	rm -rf $(VENV) runs out
