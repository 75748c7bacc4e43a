"""Test helpers: ``hexwatch serve`` in a subprocess, and polling for a condition.

Plain modules rather than conftest: several conftest.py files exist, and
``from conftest import`` would pick whichever was imported first.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def hexwatch_serve(store: Path, *, env: dict | None = None, workers: int = 2, timeout_s: float = 60) -> Iterator[str]:
    """Run ``hexwatch serve`` (gunicorn) on a free loopback port; yield its base URL; stop it after."""
    proc = subprocess.Popen([sys.executable, "-m", "geo.cli", "serve", "--store", str(store), "--host", "127.0.0.1",
                             "--port", "0", "--workers", str(workers)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    lines: list[str] = []
    listening = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if "Listening at:" in line:
                listening.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert listening.wait(timeout_s), "".join(lines)
        yield re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", "".join(lines)).group(1)
    finally:
        proc.terminate()
        proc.wait(30)


def wait_for(fn, timeout: float = 60.0, what: str = "condition"):
    """Poll ``fn`` every 0.1 s until it returns something truthy; fail the test after ``timeout`` s."""
    import pytest

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")
