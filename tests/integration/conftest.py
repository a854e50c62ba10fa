"""pytest set-up for the integration harness: see harness.py for the helpers
and test_legacy.py for what is checked."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


def pytest_configure(config):
    harness.raise_fd_limit()


def pytest_report_header(config):
    lib = harness.LIB if harness.LIB.exists() else f"{harness.LIB} (MISSING)"
    pending = ("expected to fail (xfail strict: harness.GREEN_SYNC_PENDING)"
               if harness.GREEN_SYNC_PENDING else "expected to pass")
    return [f"green build dir: {harness.BUILD}", f"preload library: {lib}",
            f"issue 3 tests (needs_green_sync): {pending}"]
