"""Load: the dashboard served by gunicorn under many simulated people at once (issue 6).

Serves the 1,000,000-incident demo store (built once, cached in ``benchmarks/out/``)
with ``hexwatch serve`` (gunicorn, 2 workers) on a free port of 127.0.0.1, warms both
workers, then runs locust headless with the users of :mod:`benchmarks.locustfile`.
Each user is a :class:`DashPage`: what the Dash renderer in a browser sends, without
the browser. It loads the page, ``/_dash-layout`` and ``/_dash-dependencies``, fires
the initial callbacks, then, after a think time, changes one control as a person
would (categories, dates, week slider, spell, area, metric, map zoom and bounds, a
district click, closing the panel, the language, another tab) and sends every
``/_dash-update-component`` request the change triggers, in dependency order, with
each input and state value taken from what the server answered so far. The bodies
come from the app's own callback signatures, so the load runs the real callbacks,
their serialisation and the role check. The server is stopped at the end whatever
happens (its whole process group).

Half the users are officials (they log in with an account the run creates, and see
exact hexes, points, trends, the district table and the ¿Funcionó? panel), half the
public (not logged in: the published grid, map and about). Users arrive evenly over a
15 s ramp (5 s quick), then all of them stay for the measured 60 s (10 s quick); each
waits 5-15 s between changes (``--think``). The login rate limit is raised for the
run, because every simulated user comes from the same loopback address.

Figures (every HTTP request ending in the measured window: page, layout,
dependencies, login and callbacks):

- requests per second, 50 users for 60 s (``--quick``: 20 users, 10 s);
- p50 / p95 / p99 latency (target: p95 <= 500 ms) and the error count (target: 0);
- the p95 of a whole user action (the chain of callbacks one change sets off).

The in-run reference is one visitor and one official sending the same actions back to
back (no think time) on the same warm server: the latency of a lightly loaded server,
and about the throughput it sustains (two requests in flight for two workers). Locust runs on the same 2 cores as the server, so it takes some of the
CPU it measures.

Run: ``python -m benchmarks.bench_load [--quick] [--users N] [--seconds S] [--think MIN,MAX]
[--officials SHARE]`` (or ``bash dev.sh load``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks._common import Figure, print_figures
from dashboard.tabs import TAB_ID, tab_of_view, view_id

OUT = Path(__file__).resolve().parent / "out"
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
#: Think time between two changes (seconds): a person reads the map and the chart before the next
#: filter. ``--think 1,4`` is a stress setting (someone clicking through as fast as pages draw).
THINK = (5.0, 15.0)
#: Share of the simulated users who are officials (logged in: exact hexes, trends, table, ¿Funcionó?).
OFFICIALS = 0.5
STORE_INCIDENTS = 1_000_000


# Friendly names for the callbacks' request stats, by one of their outputs.
NAMES = {"state.data": "controller", "hex-payload.data": "map hexes", "series.figure": "trends chart",
         "district-table.rowData": "district table", "district-geo.data": "district outlines",
         "emergency.data": "emergency overlay", "panel-body.children": "district panel",
         "about-body.children": "about", "trends-body.children": "trends mount", "spell.options": "option labels"}
# Where people look: Lima/Callao and Sullana (lat, lon).
PLACES = [(-12.05, -77.04), (-11.98, -77.00), (-12.10, -76.95), (-11.95, -77.07), (-4.90, -80.68)]


def id_key(cid: Any) -> str:
    """A component id as Dash writes it in callback keys (dict ids as compact sorted JSON)."""
    return cid if isinstance(cid, str) else json.dumps(cid, sort_keys=True, separators=(",", ":"))


class Callback:
    """One entry of ``/_dash-dependencies``."""

    def __init__(self, spec: dict):
        self.spec = spec
        key = spec["output"]
        parts = key[2:-2].split("...") if key.startswith("..") else [key]
        self.outputs = [self._split(p) for p in parts]
        self.inputs = [(id_key(d["id"]), d["property"]) for d in spec["inputs"]]
        self.state = [(id_key(d["id"]), d["property"]) for d in spec.get("state", [])]
        self.clientside = bool(spec.get("clientside_function"))
        self.prevent_initial = bool(spec.get("prevent_initial_call"))
        props = {f"{i}.{p}" for i, p in self.outputs}
        cid, prop = self.outputs[0]
        fallback = f"all {json.loads(cid).get('type')}.{prop}" if cid.startswith("{") else f"{cid}.{prop}"
        self.name = next((n for out, n in NAMES.items() if out in props), fallback)

    @staticmethod
    def _split(part: str) -> tuple[str, str]:
        cid, _, prop = part.rpartition(".")
        return cid, prop


class DashPage:
    """A browser tab's worth of Dash state, driven over HTTP.

    ``get(path, name) -> json`` and ``post(path, body, name) -> json | None`` (None for
    204 No Content) do the HTTP; this class decides what to send. ``parallel(thunks)``
    runs one wave of independent callbacks (default: one after the other; a browser
    sends them at once, and so does the locust user). Clientside callbacks run in a
    browser only: their outputs count as changed, except a tab's view store
    (:mod:`dashboard.tabs`), which is filled only while that tab is shown; the shown tab
    is the ``tab`` store, which ``assets/hexwatch.js`` sets and :meth:`switch_tab` changes.
    """

    def __init__(self, get: Callable[[str, str], Any], post: Callable[[str, dict, str], Any], rng: random.Random,
                 parallel: Callable[[list[Callable[[], Any]]], list[Any]] | None = None):
        self.get, self.post, self.rng = get, post, rng
        self.parallel = parallel or (lambda fns: [f() for f in fns])
        self._fitted = None
        self.values: dict[str, Any] = {}  # "id.prop" -> value
        self.ids: dict[str, Any] = {}  # id key -> id as the layout writes it (str or dict)
        self.callbacks: list[Callback] = []

    # ------------------------------------------------------------------ the renderer's part

    def open(self) -> None:
        """Load the page as a browser does and fire the initial callbacks."""
        self.get("/", "page")
        layout = self.get("/_dash-layout", "layout")
        self.callbacks = [Callback(c) for c in self.get("/_dash-dependencies", "dependencies")]
        new = self._register(layout)
        self._run(set(), new)

    def change(self, props: dict[str, Any]) -> None:
        """Set ``{"id.prop": value}`` as a user's action does and run what it triggers."""
        self.values.update(props)
        self._run(set(props), set())

    def _register(self, tree: Any) -> set[str]:
        """Record the ids and props of the components in ``tree``; the new id keys."""
        new: set[str] = set()
        stack = [tree]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                props = node.get("props")
                if isinstance(props, dict) and "type" in node:
                    if "id" in props:
                        key = id_key(props["id"])
                        new.add(key)
                        self.ids[key] = props["id"]
                        for prop, value in props.items():
                            if prop not in ("id", "children"):
                                self.values[f"{key}.{prop}"] = value
                    stack.extend(v for v in props.values() if isinstance(v, (dict, list)))
        return new

    def _present(self, cid: str) -> bool:
        return cid in self.ids or cid.startswith("{")

    def _wildcard_ids(self, cid: str) -> list[Any]:
        """Concrete ids matching an ALL pattern id such as ``{"key":["ALL"],"type":"t"}``."""
        pattern = json.loads(cid)
        fixed = {k: v for k, v in pattern.items() if v != ["ALL"]}
        return [i for i in self.ids.values() if isinstance(i, dict) and set(i) == set(pattern)
                and all(i.get(k) == v for k, v in fixed.items())]

    def _run(self, changed: set[str], new_ids: set[str]) -> None:
        """Fire every callback triggered by ``changed`` props or new components, wave by wave.

        As the renderer does: a callback waits while one of its inputs is the output of
        another pending callback; the callbacks of a wave are sent concurrently; an
        answer that changes a fired callback's input fires it again (Dash's graph is
        acyclic, and a wave cap guards against a bug here looping).
        """
        pending = [cb for cb in self.callbacks if self._triggered(cb, changed, new_ids)]
        changed = set(changed)
        for _ in range(50):
            if not pending:
                return
            outputs_pending = {f"{i}.{p}" for cb in pending for i, p in cb.outputs}
            wave = [cb for cb in pending if not any(f"{i}.{p}" in outputs_pending and (i, p) not in cb.outputs
                                                    for i, p in cb.inputs)] or pending[:1]
            pending = [cb for cb in pending if cb not in wave]
            results = self.parallel([lambda cb=cb: self._fire(cb, changed) for cb in wave])
            for source, (out_changed, out_new) in zip(wave, results):
                changed |= out_changed
                # A callback's own outputs never trigger it again (Dash allows such loops).
                pending += [cb for cb in self.callbacks if cb is not source and cb not in pending
                            and self._triggered(cb, out_changed, out_new)]
        raise RuntimeError("callbacks kept triggering each other for 50 waves")

    def _triggered(self, cb: Callback, changed: set[str], new_ids: set[str]) -> bool:
        # The renderer only runs a callback whose inputs and outputs are all on the page.
        if not all(self._present(i) for i, _ in cb.inputs + cb.outputs):
            return False
        if any(f"{i}.{p}" in changed for i, p in cb.inputs):
            return True
        # Newly rendered components fire the callbacks they take part in, unless prevented.
        return not cb.prevent_initial and any(i in new_ids for i, _ in cb.outputs + cb.inputs)

    def _fire(self, cb: Callback, changed: set[str]) -> tuple[set[str], set[str]]:
        if cb.clientside:  # runs in the browser: its outputs change, their values are the browser's
            gated = [tab_of_view(i) for i, _ in cb.outputs if tab_of_view(i)]
            if gated:  # a tab's view store (dashboard/tabs.py): filled only while that tab is shown
                if self.values.get(f"{TAB_ID}.data", "map") != gated[0]:
                    return set(), set()
                self.values[f"{view_id(gated[0])}.data"] = self.values.get("state.data")
            return {f"{i}.{p}" for i, p in cb.outputs}, set()

        def item(i: str, p: str) -> dict:
            return {"id": self.ids.get(i, i), "property": p, "value": self.values.get(f"{i}.{p}")}

        outs = []
        for i, p in cb.outputs:
            if i.startswith("{"):
                outs.append([{"id": cid, "property": p} for cid in self._wildcard_ids(i)])
            else:
                outs.append({"id": self.ids.get(i, i), "property": p})
        body = {"output": cb.spec["output"], "outputs": outs if cb.spec["output"].startswith("..") else outs[0],
                "inputs": [item(i, p) for i, p in cb.inputs], "state": [item(i, p) for i, p in cb.state],
                "changedPropIds": [f"{i}.{p}" for i, p in cb.inputs if f"{i}.{p}" in changed]}
        answer = self.post("/_dash-update-component", body, cb.name)
        out_changed, out_new = set(), set()
        for cid, props in ((answer or {}).get("response") or {}).items():
            for prop, value in props.items():
                self.values[f"{cid}.{prop}"] = value
                out_changed.add(f"{cid}.{prop}")
                out_new |= self._register(value)
        if "map.viewport" in out_changed:
            out_changed |= self._fit_viewport()
        return out_changed, out_new

    def _fit_viewport(self) -> set[str]:
        """Leaflet fits the map to a new viewport and reports its zoom and bounds."""
        bounds = (self.values.get("map.viewport") or {}).get("bounds")
        if not bounds or bounds == self._fitted:  # the same view: the map does not move
            return set()
        self._fitted = bounds
        (s, w), (n, e) = bounds
        self.values["map.bounds"] = bounds
        self.values["map.zoom"] = zoom_for_span(max(e - w, 1e-6))
        return {"map.bounds", "map.zoom"}

    # ------------------------------------------------------------------ a person's actions

    def options(self, cid: str) -> list[Any]:
        return [o["value"] if isinstance(o, dict) else o for o in self.values.get(f"{cid}.options") or []]

    def pick_categories(self) -> None:
        cats = self.options("cats")
        self.change({"cats.value": self.rng.sample(cats, self.rng.choice([0, 1, 1, 2, 3])) if cats else []})

    def change_dates(self) -> None:
        lo = dt.date.fromisoformat(str(self.values.get("dates.min_date_allowed", "2022-01-01"))[:10])
        hi = dt.date.fromisoformat(str(self.values.get("dates.max_date_allowed", "2025-12-31"))[:10])
        length = min(self.rng.choice([7, 28, 30, 60, 90, 182, 365]), (hi - lo).days)
        start = lo + dt.timedelta(days=self.rng.randrange((hi - lo).days - length + 1))
        end = start + dt.timedelta(days=length)
        self.change({"dates.start_date": start.isoformat(), "dates.end_date": end.isoformat()})

    def move_week(self) -> None:
        self.change({"week.value": self.rng.randint(0, int(self.values.get("week.max") or 0))})

    def pick_spell(self) -> None:
        self.change({"spell.value": self.rng.choice(self.options("spell") + [None])})

    def switch_area(self) -> None:
        self.change({"area.value": self.rng.choice(self.options("area") or ["all"])})

    def switch_metric(self) -> None:
        self.change({"metric.value": self.rng.choice(self.options("metric") or ["count"])})

    def pan_zoom(self, zoom: int | None = None, place: tuple[float, float] | None = None) -> None:
        lat, lon = place or self.rng.choice(PLACES)
        zoom = zoom or self.rng.randint(10, 14)
        half_lon = 360 / 2 ** zoom * 1000 / 256 / 2  # a 1000 x 600 px map
        half_lat = half_lon * 0.6 * math.cos(math.radians(lat))
        lat += self.rng.uniform(-0.03, 0.03)
        lon += self.rng.uniform(-0.03, 0.03)
        bounds = [[lat - half_lat, lon - half_lon], [lat + half_lat, lon + half_lon]]
        self.change({"map.zoom": zoom, "map.bounds": bounds})

    def click_district(self) -> None:
        features = (self.values.get("district-geo.data") or {}).get("features") or []
        if features:
            self.change({"district-fill.clickData": self.rng.choice(features)})

    def close_panel(self) -> None:
        self.change({"panel-close.n_clicks": int(self.values.get("panel-close.n_clicks") or 0) + 1})

    def open_impact(self) -> None:
        """Open or close the ¿Funcionó? panel (officials' page only; others move the week slider)."""
        if "impact-summary" not in self.ids:
            return self.move_week()
        if self.values.get(f"{TAB_ID}.data") != "impact":  # the panel is on its tab
            self.change({f"{TAB_ID}.data": "impact"})
        self.change({"impact-summary.n_clicks": int(self.values.get("impact-summary.n_clicks") or 0) + 1})

    def tabs(self) -> list[str]:
        """The tab bar's tab names (its links' ``data-tab``)."""
        return sorted({v for k, v in self.values.items() if k.endswith(".data-tab")})

    def switch_tab(self) -> None:
        """Open another tab of the tab bar, as ``assets/hexwatch.js`` tells Dash (the ``tab`` store)."""
        shown = self.values.get(f"{TAB_ID}.data")
        choices = [name for name in self.tabs() if name != shown]
        if choices:
            self.change({f"{TAB_ID}.data": self.rng.choice(choices)})

    def switch_language(self) -> None:
        self.change({"lang.value": "en" if self.values.get("lang.value") == "es" else "es"})


def zoom_for_span(lon_span: float, width_px: int = 1000) -> int:
    """The Leaflet zoom at which ``lon_span`` degrees fill about ``width_px`` pixels."""
    return max(5, min(17, int(math.log2(360 * width_px / 256 / lon_span))))


# (action, weight): what people do most is filter and move through time.
ACTIONS = [("pick_categories", 4), ("change_dates", 3), ("move_week", 3), ("pan_zoom", 3), ("pick_spell", 2),
           ("click_district", 2), ("close_panel", 1), ("switch_area", 1), ("switch_metric", 1), ("switch_language", 1),
           ("open_impact", 1), ("switch_tab", 2)]

_CSRF = re.compile(r"""name=['"]csrf['"] value=['"]([^'"]+)['"]""")


def login_form(page_html: str, name: str, password: str) -> dict[str, str]:
    """The fields of the ``/login`` form (its CSRF token included) for ``name``."""
    found = _CSRF.search(page_html)
    if not found:
        raise RuntimeError("no CSRF token in the login page")
    return {"csrf": found.group(1), "username": name, "password": password}


@dataclass(frozen=True)
class Account:
    """The one official account a load run creates (never written to disk)."""

    name: str
    password: str

    @classmethod
    def make(cls) -> "Account":
        return cls("loadtest", secrets.token_urlsafe(18))

    def server_env(self) -> dict[str, str]:
        """What the server needs: the account, a session key shared by its workers, and a
        login rate limit fit for many users behind one loopback address."""
        from dashboard.auth import hash_password

        return {"HEXWATCH_USERS": f"{self.name}:{hash_password(self.password)}",
                "HEXWATCH_SECRET_KEY": secrets.token_urlsafe(48), "HEXWATCH_RATE_LIMIT_LOGIN": "100000 per minute"}


def demo_store(n: int = STORE_INCIDENTS) -> Path:
    """The cached demo store (the one :mod:`benchmarks.bench_dashboard` also uses)."""
    from benchmarks.bench_dashboard import demo_store as cached

    return cached(n)


@contextmanager
def served(store: Path, workers: int = 2, env: dict[str, str] | None = None, log_dir: Path | None = None):
    """``hexwatch serve`` on a free loopback port; yields its URL; always stops its process group."""
    log_dir = log_dir or OUT / "load"
    log_dir.mkdir(parents=True, exist_ok=True)
    access = open(log_dir / "gunicorn-access.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "geo.cli", "serve", "--store", str(store), "--host", "127.0.0.1",
                             "--port", "0", "--workers", str(workers)], stdout=access, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env={**os.environ, **(env or {})})
    lines: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        with open(log_dir / "gunicorn-error.log", "w") as fh:
            for line in proc.stderr:
                fh.write(line)
                lines.append(line)
                if "Listening at:" in line:
                    ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        ready.wait(180)
        found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", "".join(lines))
        if proc.poll() is not None or not found:
            raise RuntimeError("the dashboard server did not start:\n" + "".join(lines[-20:]))
        yield found.group(1)
    finally:
        _stop_group(proc, grace=20)
        access.close()


def _stop_group(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue


def warm(url: str, account: Account) -> dict:
    """Visit every zoom, place and area as two visitors and two officials at once, so both
    workers have loaded what the load asks for (a running server is warm); answers by worker."""
    import requests

    workers: dict[str, int] = {}
    errors: list[str] = []

    def session(seed: int, official: bool) -> None:
        http = requests.Session()

        def get(path, name):
            r = http.get(url + path, timeout=300)
            r.raise_for_status()
            return r.json() if path != "/" else None

        def post(path, body, name):
            r = http.post(url + path, json=body, timeout=300)
            r.raise_for_status()
            w = r.headers.get("X-Hexwatch-Worker", "?")
            workers[w] = workers.get(w, 0) + 1
            return r.json() if r.status_code == 200 else None

        try:
            if official:
                form = login_form(http.get(url + "/login", timeout=60).text, account.name, account.password)
                http.post(url + "/login", data=form, timeout=60).raise_for_status()
            page = DashPage(get, post, random.Random(seed))
            page.open()
            for area in page.options("area"):
                page.change({"area.value": area})
            for tab in page.tabs():
                page.change({f"{TAB_ID}.data": tab})  # each tab's first use loads its tables
            page.change({f"{TAB_ID}.data": "map"})
            for zoom in range(10, 15):
                for place in PLACES:
                    page.pan_zoom(zoom, place)
            for action, _ in ACTIONS:
                getattr(page, action)()
        except Exception as exc:  # reported, never hidden
            errors.append(f"{type(exc).__name__}: {exc}"[:300])

    pool = [threading.Thread(target=session, args=(seed, seed % 2 == 1)) for seed in range(4)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise RuntimeError("warm-up failed: " + errors[0])
    return workers


def locust(url: str, users: int, seconds: int, think: tuple[float, float], officials: float, account: Account,
           label: str, ramp: float = 0.0) -> list[dict]:
    """Run locust headless against ``url``: ``users`` arrive evenly over ``ramp`` seconds and all
    stay for ``seconds`` more. One record per request (and per user action) of that last part."""
    log_dir = OUT / "load"
    log_dir.mkdir(parents=True, exist_ok=True)
    records = log_dir / f"{label}-requests.jsonl"
    records.unlink(missing_ok=True)
    root = str(Path(__file__).resolve().parent.parent)  # the locustfile imports benchmarks.bench_load
    env = {**os.environ, "HEXWATCH_LOAD_THINK": f"{think[0]},{think[1]}", "HEXWATCH_LOAD_OUT": str(records),
           "HEXWATCH_LOAD_OFFICIALS": str(officials), "HEXWATCH_LOAD_LOGIN": f"{account.name}:{account.password}",
           "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url, "-u", str(users),
           "-r", f"{users / ramp if ramp else users:.3f}", "-t", f"{math.ceil(ramp + seconds)}s", "--stop-timeout", "30",
           "--only-summary",
           "--loglevel", "WARNING", "--csv", str(log_dir / label)]
    with open(log_dir / f"{label}-locust.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
        try:
            proc.wait(seconds + 120)
        except subprocess.TimeoutExpired:
            pass
        finally:
            _stop_group(proc, grace=15)
    if not records.exists():
        raise RuntimeError(f"locust wrote no records; see {log_dir / (label + '-locust.log')}")
    rows = [json.loads(line) for line in records.read_text().splitlines() if line.strip()]
    if not rows:
        raise RuntimeError(f"locust sent no request; see {log_dir / (label + '-locust.log')}")
    # Requests that ended once every user had arrived, and within ``seconds`` of that.
    start = min(r["t"] - r["ms"] / 1000 for r in rows) + ramp
    return [r for r in rows if start <= r["t"] <= start + seconds]


def summarise(records: list[dict], seconds: float) -> dict:
    """Rates, percentiles and errors of a locust run's records."""
    http = [r for r in records if r["method"] != "ACTION"]
    ms = np.array([r["ms"] for r in http], dtype=float)
    actions = np.array([r["ms"] for r in records if r["method"] == "ACTION"], dtype=float)
    errors = [r for r in http if not r["ok"]]
    by_name: dict[str, list[float]] = {}
    for r in http:
        by_name.setdefault(r["name"], []).append(r["ms"])

    def pct(x: np.ndarray, q: float) -> float:
        return float(np.percentile(x, q)) if len(x) else float("nan")

    return {
        "requests": len(http), "rps": len(http) / seconds, "errors": len(errors),
        "error_samples": sorted({f"{e['name']}: {e['error']}" for e in errors})[:5],
        "p50": pct(ms, 50), "p95": pct(ms, 95), "p99": pct(ms, 99), "max": float(ms.max()) if len(ms) else float("nan"),
        "actions": len(actions), "action_p50": pct(actions, 50), "action_p95": pct(actions, 95),
        "per_callback_p95_ms": {n: round(pct(np.array(v), 95), 1) for n, v in sorted(by_name.items())},
        "per_callback_count": {n: len(v) for n, v in sorted(by_name.items())},
    }


def run(quick: bool = False, *, users: int | None = None, seconds: int | None = None,
        think: tuple[float, float] = THINK, officials: float = OFFICIALS, workers: int = 2,
        store: Path | None = None) -> list[Figure]:
    """Serve the demo store and load it; figures beside the reference (one visitor and one
    official sending the same actions back to back)."""
    users = users or (20 if quick else 50)
    seconds = seconds or (10 if quick else 60)
    ref_seconds = 5 if quick else 15
    ramp = 5.0 if quick else 15.0  # people arrive over a while, not in one second
    store = store or demo_store()
    account = Account.make()
    with served(store, workers, account.server_env()) as url:
        t = time.perf_counter()
        answered = warm(url, account)
        warm_s = time.perf_counter() - t
        ref = summarise(locust(url, 2, ref_seconds, (0.0, 0.0), 0.5, account, "reference"), ref_seconds)
        load = summarise(locust(url, users, seconds, think, officials, account, "load", ramp), seconds)
    who = (f"{users} users ({officials:.0%} officials) x {seconds} s after a {ramp:g} s ramp, "
           f"think {think[0]:g}-{think[1]:g} s, {workers} gunicorn workers")
    ref_name = "1 visitor + 1 official back to back"
    extra = {**{k: v for k, v in load.items() if k not in ("p50", "p95", "p99")}, "reference": ref,
             "warm_up_s": round(warm_s, 1), "warm_up_answers_by_worker": answered, "store": str(store)}
    return [
        Figure(f"requests/s, {who}", load["rps"], "req/s", ref_name, ref["rps"], ratio=load["rps"] / ref["rps"],
               ratio_kind="fraction", runs=load["requests"], extra=extra),
        Figure(f"request latency p95, {users} users", load["p95"], "ms", ref_name, ref["p95"],
               ratio=load["p95"] / ref["p95"], ratio_kind="fraction", target="p95 <= 500 ms",
               met=load["p95"] <= 500, runs=load["requests"]),
        Figure(f"request latency p50, {users} users", load["p50"], "ms", ref_name, ref["p50"],
               ratio=load["p50"] / ref["p50"], ratio_kind="fraction", runs=load["requests"]),
        Figure(f"request latency p99, {users} users", load["p99"], "ms", ref_name, ref["p99"],
               ratio=load["p99"] / ref["p99"], ratio_kind="fraction", runs=load["requests"]),
        Figure(f"errors, {users} users", load["errors"], "errors", ref_name, ref["errors"], ratio_kind="",
               target="0 errors", met=load["errors"] == 0 and ref["errors"] == 0, runs=load["requests"],
               extra={"samples": load["error_samples"] + ref["error_samples"]}),
        Figure(f"user action p95 (all callbacks of one change), {users} users", load["action_p95"], "ms", ref_name,
               ref["action_p95"], ratio=load["action_p95"] / ref["action_p95"], ratio_kind="fraction",
               runs=load["actions"]),
    ]


def _sigterm(*_):
    raise SystemExit(143)  # unwinds the finally blocks that stop the server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 users for 10 s")
    ap.add_argument("--users", type=int, help="simulated users (default 50; quick 20)")
    ap.add_argument("--seconds", type=int, help="duration of the load (default 60; quick 10)")
    ap.add_argument("--think", default=f"{THINK[0]:g},{THINK[1]:g}", help="think time range in seconds, MIN,MAX")
    ap.add_argument("--officials", type=float, default=OFFICIALS, help="share of users who log in as officials, 0-1")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (>= 2)")
    ap.add_argument("--store", type=Path, help="serve this store instead of the cached 1M demo store")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _sigterm)
    lo, _, hi = args.think.partition(",")
    figures = run(args.quick, users=args.users, seconds=args.seconds, think=(float(lo), float(hi or lo)),
                  officials=args.officials, workers=max(2, args.workers), store=args.store)
    print_figures("load (served dashboard)", figures)
    load = figures[0].extra
    print(f"  requests: {load['requests']:,}, user actions: {load['actions']:,}, warm-up {load['warm_up_s']} s")
    print("  p95 by callback (ms): " + ", ".join(f"{k} {v:g}" for k, v in load["per_callback_p95_ms"].items()))
    if load["error_samples"]:
        print("  errors: " + "; ".join(load["error_samples"]))


if __name__ == "__main__":
    main()
