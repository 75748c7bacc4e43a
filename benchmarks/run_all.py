"""One command for every benchmark: ``python -m benchmarks.run_all [--quick] [--only TOPIC ...]``.

Discovers ``benchmarks/bench_<topic>.py``, runs each module's ``run(quick)`` in its own
subprocess (one at a time, so that they do not disturb each other's timings; a topic
that fails or runs past ``--timeout`` is recorded as failed and the others still run),
and writes, atomically:

- ``benchmarks/REPORT.md``: the machine, date and git commit, then one table per topic
  (figure, median, in-run reference, ratio, target, met?, runs);
- ``benchmarks/report.json``: the same, machine-readable (every :class:`Figure` field).

Each topic's output is shown as it runs and kept in ``benchmarks/out/logs/<topic>.log``.
``--only`` (repeatable, or comma-separated) runs some topics and keeps the others'
last results from ``report.json``, marked with the run they came from.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks._common import Figure, machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REPORT_MD = HERE / "REPORT.md"
REPORT_JSON = HERE / "report.json"
LOGS = HERE / "out" / "logs"
#: Seconds a topic may run before it is stopped and recorded as failed.
TIMEOUT = {"quick": 1800, "full": 4 * 3600}


def topics() -> list[str]:
    """Every ``benchmarks/bench_<topic>.py``, by name."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def child(topic: str, quick: bool, out: Path) -> None:
    """Run one topic in this process and write its figures to ``out`` (JSON)."""
    import importlib

    module = importlib.import_module(f"benchmarks.bench_{topic}")
    figures = module.run(quick=quick)
    bad = [f for f in figures if not isinstance(f, Figure)]
    if bad:
        raise TypeError(f"bench_{topic}.run() returned {type(bad[0]).__name__}, not Figure")
    out.write_bytes(orjson.dumps([f.to_dict() for f in figures], option=orjson.OPT_SERIALIZE_NUMPY, default=str))


def run_topic(topic: str, quick: bool, timeout: float) -> dict[str, Any]:
    """Run ``topic`` in a subprocess; its result entry (status, seconds, figures, error)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    out = LOGS / f"{topic}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.run_all", "--child", topic, "--out", str(out)] + (["--quick"] if quick else [])
    started = time.perf_counter()
    tail: list[str] = []
    status = "ok"
    with open(LOGS / f"{topic}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)

        def pump() -> None:  # the topic's own prints, live, and into its log
            for line in proc.stdout:
                log.write(line)
                log.flush()
                print(f"  [{topic}] {line}", end="", flush=True)
                tail.append(line.rstrip())
                del tail[:-15]

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            status = "timeout"
        finally:
            _stop(proc)
            reader.join(10)
    seconds = time.perf_counter() - started
    if status == "ok" and (proc.returncode != 0 or not out.exists()):
        status = "failed"
    entry: dict[str, Any] = {"topic": topic, "status": status, "seconds": round(seconds, 1), "quick": quick,
                             "figures": orjson.loads(out.read_bytes()) if status == "ok" else []}
    if status != "ok":
        entry["error"] = (f"stopped after {timeout:.0f} s" if status == "timeout" else
                          next((ln for ln in reversed(tail) if ln.strip()), f"exit code {proc.returncode}"))
        entry["log_tail"] = tail
    return entry


def _stop(proc: subprocess.Popen) -> None:
    """Stop a topic's whole process group: SIGTERM first (its servers shut down), then SIGKILL."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def git_commit() -> str:
    """The checked-out commit, with ``+dirty`` when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    sha = git("rev-parse", "HEAD") or "unknown"
    return sha + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        x = f"{x:.4g}"
    return f"{x} {unit}".strip()


def markdown(report: dict[str, Any]) -> str:
    """``REPORT.md``: the machine, then one table per topic."""
    m = report["machine"]
    lines = ["# hexwatch benchmarks", "",
             f"- date: {report['date']}", f"- commit: `{report['commit']}`",
             f"- machine: {m['platform']}, Python {m['python']}, {m['cpus']} CPUs ({m['processor']})",
             f"- mode: {'quick' if report['quick'] else 'full'}; command: `{report['command']}`", "",
             "Each figure is a median of its runs beside an in-run reference measured on the same data and "
             "machine: the ratio, not the raw time, is what is compared with the target "
             "(`speedup` = reference / figure, higher is better; `fraction` = figure / reference).", ""]
    met = [f for t in report["topics"] for f in t["figures"] if f.get("met") is not None]
    failed = [t["topic"] for t in report["topics"] if t["status"] != "ok"]
    lines += [f"**{sum(bool(f['met']) for f in met)} of {len(met)} targets met**"
              + (f"; failed topics: {', '.join(failed)}" if failed else "") + ".", ""]
    for t in report["topics"]:
        head = f"## {t['topic']}"
        if t.get("from_run"):
            head += f" (kept from the run of {t['from_run']})"
        lines += [head, "", f"{t['status']}, {t['seconds']} s" + (" (quick)" if t.get("quick") else ""), ""]
        if t["status"] != "ok":
            lines += [f"**{t['status']}**: `{t.get('error', '')}` (log: `benchmarks/out/logs/{t['topic']}.log`)", ""]
            continue
        lines += ["| figure | median | reference | ratio | target | met? | runs |", "|---|---|---|---|---|---|---|"]
        for f in t["figures"]:
            ref = f"{f['reference_name']}: {_fmt(f['reference_value'], f['unit'])}" if f.get("reference_name") else "–"
            ratio = f"{f['ratio']:.2f}× ({f['ratio_kind']})" if f.get("ratio") is not None else "–"
            met_s = "–" if f.get("met") is None else ("yes" if f["met"] else "**no**")
            cells = [f["name"], _fmt(f["value"], f["unit"]), ref, ratio, f.get("target") or "–", met_s, str(f["runs"])]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="each topic's quick mode (smaller data, fewer runs)")
    ap.add_argument("--only", action="append", default=[], metavar="TOPIC",
                    help="run only these topics (repeat or comma-separate); the others keep their last results")
    ap.add_argument("--timeout", type=float, help="seconds per topic (default 1800 quick, 14400 full)")
    ap.add_argument("--list", action="store_true", help="list the topics and exit")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: servers in finally blocks stop
        child(args.child, args.quick, args.out)
        return 0
    every = topics()
    if args.list:
        print("\n".join(every))
        return 0
    only = [t.strip().removeprefix("bench_") for o in args.only for t in o.split(",") if t.strip()]
    unknown = sorted(set(only) - set(every))
    if unknown:
        print(f"error: no benchmark {', '.join(unknown)}; topics: {', '.join(every)}", file=sys.stderr)
        return 2
    chosen = only or every
    timeout = args.timeout or TIMEOUT["quick" if args.quick else "full"]
    entries = {}
    for topic in chosen:
        print(f"== {topic}", flush=True)
        entries[topic] = run_topic(topic, args.quick, timeout)
        e = entries[topic]
        print(f"== {topic}: {e['status']} in {e['seconds']} s" + (f" ({e['error']})" if e["status"] != "ok" else ""),
              flush=True)
    if only and REPORT_JSON.exists():  # keep the other topics' last results
        previous = orjson.loads(REPORT_JSON.read_bytes())
        for t in previous.get("topics", []):
            if t["topic"] in every and t["topic"] not in entries:
                entries[t["topic"]] = {**t, "from_run": t.get("from_run") or previous.get("date")}
    report = {"date": dt.datetime.now().isoformat(timespec="seconds"), "commit": git_commit(), "machine": machine(),
              "quick": args.quick, "command": "python -m benchmarks.run_all " + " ".join(argv or sys.argv[1:]),
              "topics": [entries[t] for t in every if t in entries]}
    from geo.store import atomic_write_bytes

    atomic_write_bytes(REPORT_JSON, orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY,
                                                 default=str))
    atomic_write_bytes(REPORT_MD, markdown(report).encode())
    print(f"wrote {REPORT_MD.relative_to(ROOT)} and {REPORT_JSON.relative_to(ROOT)}")
    return 0 if all(entries[t]["status"] == "ok" for t in chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
