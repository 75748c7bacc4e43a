"""A low-priority helper process for the dashboard's heavy analyses.

One ¿Funcionó? analysis (difference-in-differences with randomisation inference, the
synthetic control, the event study, ...) costs seconds of CPU. Run in a gunicorn
worker's thread, it held that worker's GIL against every map request the worker was
serving, and took a core from the other worker: under the load test one open panel
made the map's p95 go past a second. A served app (``hexwatch serve``) therefore runs
them in one helper process per worker, started with ``spawn`` (forking a threaded
server is unsafe) and lowered to ``nice`` 10: the kernel gives the map's requests the
CPU first and the analysis what is left. The answer is the same object, pickled back.

The helper is the dashboard's own process (the host app), so lowering its priority is
its choice; :mod:`geo` never does this to whoever runs it.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

#: How much lower than the serving threads the helper runs (``nice`` increment).
NICENESS = 10


def _lower_priority() -> None:
    os.nice(NICENESS)


class Helper:
    """Runs functions in a helper process (``enabled``) or inline (tests, ``hexwatch
    dashboard``'s single process, where nothing else competes)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_lower_priority)
            return self._pool

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, in the helper process when enabled. Its exceptions
        are raised here; a helper that died (killed, out of memory) is replaced and the
        call run inline once, so a request never fails for the helper's sake."""
        if not self.enabled:
            return fn(*args, **kwargs)
        try:
            return self._executor().submit(fn, *args, **kwargs).result()
        except BrokenProcessPool:
            with self._lock:
                self._pool = None
            return fn(*args, **kwargs)

    def close(self) -> None:
        """Stop the helper process (it also ends with this process)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
