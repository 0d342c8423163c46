"""Session fixtures for the emulated arm64 board (registered by tests/conftest.py's pytest_plugins)."""
from pathlib import Path

import pytest

from mnd.base.errors import TargetUnavailable
from tests.conftest import skip_or_fail


@pytest.fixture(scope="session")
def arm64_rootfs() -> Path:
    """The cached arm64 root filesystem from the real cache ($MND_CACHE or ~/.cache/mnd): built once per machine
    (about 3 minutes, as root), reused afterwards; skipped (failed under MND_REQUIRE_TOOLS=1) when it cannot be."""
    from mnd.targets.linux_arm64.rootfs import ensure_rootfs

    try:
        return ensure_rootfs()
    except TargetUnavailable as error:
        skip_or_fail(str(error))
