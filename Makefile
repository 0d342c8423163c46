# Every target creates .venv on first use and installs the pinned project into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MND := $(VENV)/bin/mnd
INSTALLED := $(VENV)/.installed

APT_TOOLS := qemu-system-arm:qemu-system-arm arm-none-eabi-gcc:gcc-arm-none-eabi qemu-x86_64-static:qemu-user-static \
             arm-none-eabi-size:binutils-arm-none-eabi gcc:gcc /usr/sbin/debootstrap:debootstrap \
             aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu /usr/sbin/sshd:openssh-server ssh:openssh-client adb:adb
BINFMT := /proc/sys/fs/binfmt_misc
NEWLIB := /usr/lib/arm-none-eabi/newlib
AARCH64_LIBC := /usr/aarch64-linux-gnu/lib/libc.a

.PHONY: demo test bench toolchain clean

$(INSTALLED): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

demo: $(INSTALLED) toolchain
	$(MND) summary --alpha 0.25 --resolution 32 --classes 10 --channels 1
	$(MND) export --target host --out out/demo --force
	$(MND) export --target cortex-m4 --out out/demo-cortex-m4 --force
	cat out/demo/report.md out/demo-cortex-m4/report.md

# Cortex-M tools from Debian when missing (qemu-system-arm, arm-none-eabi-gcc, newlib), the emulated arm64 board's
# (debootstrap, qemu-aarch64 registered with binfmt_misc, flags F), and sshd/ssh for the SSH transport's tests.
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

test: $(INSTALLED) toolchain
	$(PY) -m pytest

bench: $(INSTALLED)
	$(PY) -m tests.bench.run

clean:
	rm -rf $(VENV) runs out
