"""Locust users for :mod:`benchmarks.bench_load`: people browsing the dashboard.

Each user is a :class:`benchmarks.bench_load.DashPage` (the Dash renderer's requests,
built from the app's own ``/_dash-dependencies``) driven by locust's HTTP client: it
opens the page, then repeatedly thinks and changes one control, sending every callback
request the change triggers (a wave of independent callbacks at once, as a browser
does). Locust is imported here only: it patches the standard library with gevent.

Environment: ``HEXWATCH_LOAD_THINK="min,max"`` think time in seconds (default
:data:`benchmarks.bench_load.THINK`; ``0,0`` = back to back), ``HEXWATCH_LOAD_OFFICIALS`` the share of users who log in
(default :data:`benchmarks.bench_load.OFFICIALS`) with ``HEXWATCH_LOAD_LOGIN="name:password"``,
``HEXWATCH_LOAD_OUT`` a file that receives one JSON line per request (method, name,
milliseconds, end time, ok, error) and per user action when the run ends.
"""

from __future__ import annotations

import json
import os
import random
import time

import gevent.pool
from locust import HttpUser, events, task

from benchmarks.bench_load import ACTIONS, OFFICIALS, THINK, DashPage, login_form

RECORDS: list[str] = []


def _think() -> tuple[float, float]:
    lo, _, hi = os.environ.get("HEXWATCH_LOAD_THINK", f"{THINK[0]},{THINK[1]}").partition(",")
    return float(lo), float(hi or lo)


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **kwargs):
    RECORDS.append(json.dumps({"method": request_type, "name": name, "ms": response_time, "t": time.time(),
                               "ok": exception is None, "error": None if exception is None else str(exception)[:200]}))


@events.quitting.add_listener
def _write(environment, **kwargs):
    out = os.environ.get("HEXWATCH_LOAD_OUT")
    if out:
        with open(out, "w") as fh:
            fh.write("\n".join(RECORDS) + ("\n" if RECORDS else ""))


class _Stop(Exception):
    """A request failed (already recorded); the session reloads the page."""


class DashboardUser(HttpUser):
    """A person using the dashboard: opens it, then changes one thing at a time."""

    abstract = True

    def wait_time(self) -> float:
        lo, hi = _think()
        return random.uniform(lo, hi)

    def _get(self, path: str, name: str):
        with self.client.get(path, name=name, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
                raise _Stop()
            return r.json() if path != "/" else None

    def _post(self, path: str, body: dict, name: str):
        with self.client.post(path, json=body, name=name, catch_response=True) as r:
            if r.status_code == 204:
                return None
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}: {r.text[:120]}")
                raise _Stop()
            try:
                return r.json()
            except ValueError:
                r.failure("response is not JSON")
                raise _Stop() from None

    def _parallel(self, thunks):
        return gevent.pool.Group().map(lambda f: f(), thunks)

    def on_start(self) -> None:
        self.page = DashPage(self._get, self._post, random.Random(), self._parallel)
        try:
            self.page.open()
        except _Stop:
            self.page = None

    @task
    def act(self) -> None:
        if self.page is None:  # a failed page load: start over, as a person would reload
            self.on_start()
            return
        names, weights = zip(*ACTIONS)
        action = random.choices(names, weights)[0]
        t = time.perf_counter()
        try:
            getattr(self.page, action)()
        except _Stop:
            self.page = None
            return
        # What the person waits for: the whole chain of callbacks one change sets off.
        RECORDS.append(json.dumps({"method": "ACTION", "name": action, "ms": (time.perf_counter() - t) * 1000,
                                   "t": time.time(), "ok": True, "error": None}))


def _weights() -> tuple[int, int]:
    share = min(1.0, max(0.0, float(os.environ.get("HEXWATCH_LOAD_OFFICIALS", OFFICIALS))))
    return round(10 * (1 - share)), round(10 * share)


class Visitor(DashboardUser):
    """Someone of the public: not logged in (public grid, map and about only)."""

    weight = _weights()[0]
    abstract = weight == 0


class Official(DashboardUser):
    """A city official or analyst: logs in first, then sees everything."""

    weight = _weights()[1]
    abstract = weight == 0

    def on_start(self) -> None:
        name, _, password = os.environ.get("HEXWATCH_LOAD_LOGIN", ":").partition(":")
        with self.client.get("/login", name="login page", catch_response=True) as r:
            form = login_form(r.text, name, password) if r.status_code == 200 else None
            if form is None:
                r.failure(f"HTTP {r.status_code}")
        with self.client.post("/login", data=form or {}, name="login", catch_response=True,
                              allow_redirects=False) as r:
            if r.status_code != 303:
                r.failure(f"login answered HTTP {r.status_code}, not a redirect")
        super().on_start()
