"""Collects the suite's figures and renders ``bench/RESULTS.md``."""

from __future__ import annotations

import datetime as dt
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import PIL

from bench import budget as budgets
from bench.common import REPO_ROOT
from bench.measures import JOURNEY, Plan, Rate, WrkResult
from bench.stack import CONSUMER_WORKERS, THUMBOR_VERSION, WEB_WORKERS

RESULTS = REPO_ROOT / "bench" / "RESULTS.md"
JOB = "GET /api/v1/jobs/<id> (4 outputs)"
JOURNEY_PILLOW = JOURNEY[-1]


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Results:
    plan: Plan
    quick: bool
    started: str = ""
    load_before: str = ""
    load_after: str = ""
    thumbor_problem: str | None = None
    thumbnails: dict[str, Rate] = field(default_factory=dict)
    journey: dict[str, float] = field(default_factory=dict)
    conversions: dict[str, Rate] = field(default_factory=dict)
    api: dict[str, WrkResult] | str = field(default_factory=dict)
    uploads: dict[str, Rate] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    budget: budgets.Budget | None = None
    denoise: str = ""

    def start(self) -> None:
        self.started = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        self.load_before = _load()

    def finish(self) -> None:
        self.load_after = _load()


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _goal(label: str, value: float, goal: str, met: bool) -> str:
    return f"| {label} | {value:.2f} | {goal} | {'met' if met else 'MISSED'} |"


def goals(r: Results) -> list[str]:
    """The goals of the speed work (thumbnails against thumbor and raw Pillow, one job's
    latency, the service's CPU per job, the API against a bare Flask app)."""
    rows = []
    t = r.thumbnails
    ours = t.get("PixTools (local disk)")
    if ours and "thumbor" in t:
        ratio = _ratio(ours.per_second, t["thumbor"].per_second)
        rows.append(_goal("thumbnails, 2 in flight: PixTools (server mode) / thumbor", ratio,
                          "≥ 1.10", ratio >= 1.1))
    desktop = t.get("PixTools (desktop mode)")
    if desktop and "thumbor" in t:
        ratio = _ratio(desktop.per_second, t["thumbor"].per_second)
        rows.append(_goal("the same in desktop mode / thumbor", ratio, "≥ 1.00", ratio >= 1.0))
    if ours and "raw Pillow" in t:
        ratio = _ratio(ours.per_second, t["raw Pillow"].per_second)
        rows.append(_goal("thumbnails, 2 in flight: PixTools / raw Pillow", ratio,
                          "≥ 0.70 (moonshot 0.85)", ratio >= 0.7))
    if r.journey:
        ratio = _ratio(r.journey["total"], r.journey[JOURNEY_PILLOW])
        rows.append(_goal("one job in flight, end to end / raw Pillow's time", ratio, "≤ 1.30",
                          ratio <= 1.3))
    if r.budget is not None:
        beyond = r.budget.beyond_pillow_ms
        rows.append(_goal("service CPU per thumbnail job beyond Pillow's (ms, all processes)",
                          beyond, "≤ 15", beyond <= 15))
    if isinstance(r.api, dict) and r.api:
        job, bare = r.api[JOB], r.api["bare Flask JSON"]
        ratio = _ratio(job.requests_per_second, bare.requests_per_second)
        rows.append(_goal("`GET /api/v1/jobs/<id>` req/s / bare endpoint", ratio, "≥ 0.50",
                          ratio >= 0.5))
        rows.append(_goal("… its p99 at 16 connections (ms)", job.p99_ms, "< 50",
                          job.p99_ms < 50))
    if r.uploads:
        ratio = _ratio(r.uploads["POST /api/v1/jobs"].per_second,
                       r.uploads["bare Flask upload"].per_second)
        rows.append(_goal("`POST /api/v1/jobs` (1 MB) / bare Flask upload", ratio, "≥ 0.80",
                          ratio >= 0.8))
    for fmt in ("webp", "avif"):
        if f"{fmt}: PixTools" in r.conversions:
            ratio = _ratio(r.conversions[f"{fmt}: PixTools"].per_second,
                           r.conversions[f"{fmt}: raw Pillow"].per_second)
            rows.append(_goal(f"{fmt.upper()} conversion: PixTools / raw Pillow", ratio,
                              "≥ 0.95", ratio >= 0.95))
    if r.rss:
        worker = r.rss["web worker"]
        rows.append(_goal("API worker peak RSS (MB)", worker, "≤ 150", worker <= 150))
    return rows


def _rates(rates: dict[str, Rate], anchor: str, unit: str) -> list[str]:
    base = rates[anchor].per_second
    lines = [f"| system | {unit}/s | ratio to {anchor} | rounds ({unit}/s) |",
             "| --- | --- | --- | --- |"]
    for name, rate in rates.items():
        rounds = ", ".join(f"{x:.1f}" for x in rate.rounds)
        lines.append(f"| {name} | {rate.per_second:.2f} | {_ratio(rate.per_second, base):.2f} "
                     f"| {rounds} |")
    return lines


def render(r: Results) -> str:
    p = r.plan
    out = [
        "# PixTools benchmark results",
        "",
        f"`python -m bench.run{' --quick' if r.quick else ''}` on {r.started}.",
        f"Machine: {_cpu()}, {len(os.sched_getaffinity(0))} cores, Python "
        f"{platform.python_version()}, Pillow {PIL.__version__}; load average "
        f"{r.load_before} at the start, {r.load_after} at the end (a shared machine: "
        "every figure is a ratio to an anchor measured in the same run, in alternating rounds).",
        f"PixTools server mode: gunicorn ({WEB_WORKERS} processes, gunicorn.conf.py), one "
        f"`pixtools worker standard -w {CONSUMER_WORKERS}`, PostgreSQL, Redis; desktop mode: "
        f"`pixtools desktop` (one process, SQLite). {clients_line()}",
        "",
        "## Goals",
        "",
        "| goal | measured | target | |",
        "| --- | --- | --- | --- |",
        *goals(r),
        "",
        f"## Thumbnails end to end ({p.photos} photos 4000 × 3000 × {p.rounds} rounds, "
        "fit in 512 × 512, JPEG q80, 2 in flight)",
        "",
    ]
    if r.thumbor_problem:
        out += [f"thumbor: {r.thumbor_problem}", ""]
    if r.thumbnails:
        out += _rates(r.thumbnails, "raw Pillow", "images")
        if "thumbor" in r.thumbnails:
            ratio = _ratio(r.thumbnails["PixTools (local disk)"].per_second,
                           r.thumbnails["thumbor"].per_second)
            out += ["", f"PixTools (local disk) / thumbor {THUMBOR_VERSION}: {ratio:.2f}"]
    if r.journey:
        out += ["", f"### Where one thumbnail job's time goes (one job in flight, median of "
                f"{2 * p.photos}, ms)", "", "| stage | ms |", "| --- | --- |",
                *(f"| {stage} | {ms:.1f} |" for stage, ms in r.journey.items())]
    if r.budget is not None:
        out += ["", "## CPU per thumbnail job, by process", "",
                "CPU time (user + system) read from `/proc` over the run, per job: other load "
                "on the machine changes wall time, hardly CPU time. PostgreSQL is the backends "
                "of the stack's database, Redis its own redis-server.", "",
                *budgets.render(r.budget)]
    out += ["", f"## Conversions ({p.convert_photos} photos × {p.convert_rounds} rounds, "
            "WebP q80 method 4, AVIF q80 speed 8 = PixTools' default, 2 in flight)", ""]
    if r.conversions:
        for fmt in ("webp", "avif"):
            found = {k.split(": ", 1)[1]: v for k, v in r.conversions.items()
                     if k.startswith(fmt)}
            out += [*_rates(found, "raw Pillow", f"{fmt} images"), ""]
    out += ["## API under load (wrk, 16 connections, 2 threads, "
            f"{p.wrk_seconds} s × {p.wrk_rounds} rounds)", ""]
    if isinstance(r.api, str):
        out += [r.api, ""]
    elif r.api:
        bare = r.api["bare Flask JSON"].requests_per_second
        out += ["| endpoint | req/s | ratio to bare | p50 (ms) | p99 (ms) | errors |",
                "| --- | --- | --- | --- | --- | --- |"]
        out += [f"| {name} | {w.requests_per_second:.0f} | "
                f"{_ratio(w.requests_per_second, bare):.2f} | {w.p50_ms:.1f} | "
                f"{w.p99_ms:.1f} | {w.errors} |" for name, w in r.api.items()] + [""]
    if r.uploads:
        out += [f"## Uploads ({p.uploads} × 1 MB JPEG × {p.upload_rounds} rounds, 2 in flight, "
                "consumer paused)", ""]
        out += [*_rates(r.uploads, "bare Flask upload", "uploads"), ""]
        mbps = {k: v.received / 1e6 / v.seconds for k, v in r.uploads.items()}
        out += ["MB/s: " + ", ".join(f"{k} {v:.1f}" for k, v in mbps.items()), ""]
    if r.rss:
        out += ["## Memory (peak RSS over the whole run, local-disk stack)", "",
                *(f"- {name}: {mb:.0f} MB" for name, mb in r.rss.items()), ""]
    if r.denoise:
        out += [f"## Denoise (`python -m bench.denoise_speed {' '.join(p.denoise_args)}`)",
                "", r.denoise, ""]
    return "\n".join(out)


def clients_line() -> str:
    from bench import clients

    if clients.POLL_SECONDS:
        how = f"poll a job's status every {clients.POLL_SECONDS * 1000:.0f} ms"
    else:
        how = (f"submit with `?wait={clients.WAIT_SECONDS}` (the answer comes when the job "
               "has finished)")
    return f"Clients {how} and download each result from its URL."


# Sections another benchmark writes into RESULTS.md (``bench/quality_auto.py``), or written
# by hand from earlier runs (the changes' before and after): a run carries them over.
KEPT_SECTIONS = ("## Quality auto", "## What each change saved")


def kept_sections(path: Path) -> str:
    """The sections of the current ``path`` that ``bench.run`` does not measure itself."""
    if not path.exists():
        return ""
    kept, keeping = [], False
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            keeping = line.startswith(KEPT_SECTIONS)
        if keeping:
            kept.append(line)
    return "\n\n" + "\n".join(kept).rstrip() + "\n" if kept else ""
