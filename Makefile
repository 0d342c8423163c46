# Every target creates .venv on first use and installs the pinned project into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MND := $(VENV)/bin/mnd
INSTALLED := $(VENV)/.installed
# Every Python package, with its hashes, for .venv and the docker/ image alike; regenerate with `make lock`.
LOCK := requirements.lock
PIPTOOLS := /tmp/mnd-piptools
PIP_COMPILE := pip-compile --extra test --generate-hashes --allow-unsafe --strip-extras --output-file $(LOCK) pyproject.toml

APT_TOOLS := qemu-system-arm:qemu-system-arm arm-none-eabi-gcc:gcc-arm-none-eabi qemu-x86_64-static:qemu-user-static \
             arm-none-eabi-size:binutils-arm-none-eabi gcc:gcc /usr/sbin/debootstrap:debootstrap \
             aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu /usr/sbin/sshd:openssh-server ssh:openssh-client adb:adb \
             buildah:buildah podman:podman runc:runc chromium:chromium
BINFMT := /proc/sys/fs/binfmt_misc
NEWLIB := /usr/lib/arm-none-eabi/newlib
AARCH64_LIBC := /usr/aarch64-linux-gnu/lib/libc.a

.PHONY: demo test bench toolchain clean docker docker-test lock

# The locked packages (hashes checked), then the project itself, editable, built with the lock's setuptools.
$(INSTALLED): pyproject.toml setup.py $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(INSTALLED)

demo: $(INSTALLED) toolchain
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

# Cortex-M tools from Debian when missing (qemu-system-arm, arm-none-eabi-gcc, newlib), the emulated arm64 board's
# (debootstrap, qemu-aarch64 registered with binfmt_misc, flags F), sshd/ssh for the SSH transport's tests, and
# buildah, podman and runc for the docker/ image without a Docker engine, chromium for the HTML report's test.
toolchain:
	@missing=""; for pair in $(APT_TOOLS); do tool=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$tool >/dev/null || missing="$$missing $$pkg"; done; \
	  [ -d $(NEWLIB) ] || missing="$$missing libnewlib-arm-none-eabi"; \
	  [ -f $(AARCH64_LIBC) ] || missing="$$missing libc6-dev-arm64-cross"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	  fi
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  if [ ! -e $(BINFMT)/status ]; then \
	    echo "mounting binfmt_misc"; $$SUDO mount -t binfmt_misc binfmt_misc $(BINFMT) || exit 1; \
	  fi; \
	  if [ ! -e $(BINFMT)/qemu-aarch64 ]; then \
	    echo "registering qemu-aarch64 with binfmt_misc"; \
	    $$SUDO sh -c 'cat /usr/lib/binfmt.d/qemu-aarch64.conf > $(BINFMT)/register' || exit 1; \
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
