"""The measurements of the suite, each running its systems in alternating rounds."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.pool import Pool
from pathlib import Path

from bench import clients
from bench.common import REPO_ROOT
from bench.stack import Stack


@dataclass(frozen=True)
class Plan:
    photos: int
    rounds: int  # thumbnails
    convert_photos: int
    convert_rounds: int
    wrk_seconds: int
    wrk_rounds: int
    uploads: int
    upload_rounds: int
    denoise_args: tuple[str, ...]
    budget_jobs: int = 48

    @classmethod
    def full(cls) -> Plan:
        # Conversions of 12 MP photos take seconds each: 4 photos × 5 rounds keep the run
        # near ten minutes. With 3 rounds the WebP ratio read 0.87 and 0.94 in two runs of
        # the same code, whose encodes are byte- and CPU-identical to raw Pillow's in one
        # process. Denoise runs at 2 MP here; bench/denoise_speed.py alone does 12 and 24 MP.
        return cls(12, 5, 4, 5, 10, 2, 40, 3, ("--megapixels", "2", "--crop", "512"))

    @classmethod
    def quick(cls) -> Plan:
        return cls(4, 2, 2, 1, 4, 1, 12, 2, ("--megapixels", "1", "--crop", "512"), 16)


@dataclass
class Rate:
    """Images (or requests) and the seconds they took, summed over rounds."""

    items: int = 0
    seconds: float = 0.0
    received: int = 0
    rounds: list[float] = field(default_factory=list)

    def add(self, items: int, result: tuple[float, int]) -> None:
        self.items += items
        self.seconds += result[0]
        self.received += result[1]
        self.rounds.append(items / result[0])

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def alternate(rounds: int, systems: dict[str, Callable[[], tuple[float, int]]],
              items: int) -> dict[str, Rate]:
    """Run every system once per round, rotating the order each round."""
    rates = {name: Rate() for name in systems}
    names = list(systems)
    for number in range(rounds):
        order = names[number % len(names):] + names[:number % len(names)]
        for name in order:
            rates[name].add(items, systems[name]())
            print(f"  round {number + 1} {name}: {rates[name].rounds[-1]:.2f}/s",
                  file=sys.stderr, flush=True)
    return rates


def thumbnails(plan: Plan, paths: list[Path], local: Stack, s3: Stack, thumbor: Stack | None,
               pool: Pool, desktop: Stack | None = None) -> dict[str, Rate]:
    print("thumbnails", file=sys.stderr)

    def systems(chosen: list[Path]) -> dict[str, Callable[[], tuple[float, int]]]:
        data = [path.read_bytes() for path in chosen]
        found: dict[str, Callable[[], tuple[float, int]]] = {
            "PixTools (local disk)": lambda: clients.pixtools_batch(local.url, data,
                                                                    clients.THUMBNAIL, local.key),
            "raw Pillow": lambda: clients.pillow_batch(pool, clients.pillow_thumbnail, chosen),
            "PixTools (moto S3)": lambda: clients.pixtools_batch(s3.url, data,
                                                                 clients.THUMBNAIL, s3.key),
        }
        if desktop is not None:
            found["PixTools (desktop mode)"] = lambda: clients.pixtools_batch(
                desktop.url, data, clients.THUMBNAIL)
        if thumbor is not None:
            names = [path.name for path in chosen]
            found["thumbor"] = lambda: clients.thumbor_batch(thumbor.url, names)
        return found

    alternate(1, systems(paths[:4]), 4)  # warm up: imports, connections, caches
    return alternate(plan.rounds, systems(paths), len(paths))


JOURNEY = ("upload → job recorded", "recorded → first step claimed", "resize (decode, resize)",
           "convert (encode, store)", "→ job finished", "finished → answer received",
           "download", "total", "raw Pillow, same photos, one process")


def journey(plan: Plan, paths: list[Path], local: Stack) -> dict[str, float]:
    """Median milliseconds of each stage of one thumbnail job, one job in flight: client
    clocks for the requests, the job's own timestamps (same machine, same clock) between."""
    import psycopg2

    print("journey", file=sys.stderr)
    data = [path.read_bytes() for path in paths]
    samples: dict[str, list[float]] = {stage: [] for stage in JOURNEY}
    database = psycopg2.connect(local.env["PIXTOOLS_DATABASE_URL"])
    database.autocommit = True
    try:
        for number in range(2 * len(paths)):
            started = time.time()
            job = clients.wait(local.url, clients.submit(local.url, data[number % len(data)],
                                                         clients.THUMBNAIL, key=local.key),
                               key=local.key)
            answered = time.time()
            clients.session().get(job["outputs"][0]["url"], timeout=60).raise_for_status()
            downloaded = time.time()
            with database.cursor() as cursor:
                cursor.execute(
                    "SELECT extract(epoch FROM j.created_at), extract(epoch FROM j.finished_at),"
                    " extract(epoch FROM s.started_at), extract(epoch FROM s.finished_at)"
                    " FROM jobs j JOIN outputs o ON o.job_id = j.id"
                    " JOIN steps s ON s.output_id = o.id WHERE j.id = %s ORDER BY s.position",
                    (job["id"],))
                rows = cursor.fetchall()
            created, finished = float(rows[0][0]), float(rows[0][1])
            (resize_start, resize_end), (convert_start, convert_end) = (
                (float(a), float(b)) for _, _, a, b in rows)
            stages = (created - started, resize_start - created, resize_end - resize_start,
                      convert_end - convert_start, finished - convert_end,
                      answered - finished, downloaded - answered, downloaded - started)
            for stage, seconds in zip(JOURNEY, stages, strict=False):
                samples[stage].append(seconds * 1000)
            began = time.perf_counter()
            clients.pillow_thumbnail(paths[number % len(paths)])
            samples[JOURNEY[-1]].append((time.perf_counter() - began) * 1000)
    finally:
        database.close()
    return {stage: statistics.median(values) for stage, values in samples.items()}


def conversions(plan: Plan, paths: list[Path], local: Stack, pool: Pool) -> dict[str, Rate]:
    print("conversions", file=sys.stderr)
    chosen = paths[:plan.convert_photos]
    data = [path.read_bytes() for path in chosen]
    rates: dict[str, Rate] = {}
    for fmt in ("webp", "avif"):
        recipe = clients.convert_recipe(fmt)
        jobs = [(path, fmt) for path in chosen]
        rates.update({
            f"{fmt}: {name}": rate for name, rate in alternate(plan.convert_rounds, {
                "PixTools": lambda r=recipe: clients.pixtools_batch(local.url, data, r,
                                                                           local.key),
                "raw Pillow": lambda j=jobs: clients.pillow_batch(pool, clients.pillow_convert,
                                                                  j),
            }, len(chosen)).items()})
    return rates


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def wrk(url: str, seconds: int, key: str | None = None) -> WrkResult:
    headers = [arg for name, value in clients.auth(key).items()
               for arg in ("-H", f"{name}: {value}")]
    done = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", *headers, url],
                          capture_output=True, text=True, check=True)
    out = done.stdout
    if "Requests/sec" not in out or "99%" not in out:
        raise RuntimeError(f"unexpected wrk output:\n{out}\n{done.stderr}")
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|"
                                            r"Socket errors: .*?timeout) (\d+)", out))
    return WrkResult(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        errors=errors,
    )


FOUR_OUTPUTS = {"outputs": [
    {"steps": [{"op": "resize", "width": 1024}]},
    {"steps": [{"op": "resize", "width": 512}, {"op": "convert", "format": "webp"}]},
    {"steps": [{"op": "resize", "width": 256}, {"op": "convert", "format": "avif"}]},
    {"steps": [{"op": "resize", "width": 128}, {"op": "convert", "format": "png"}]},
]}


def api(plan: Plan, photo: Path, local: Stack, bare: Stack) -> dict[str, WrkResult] | str:
    if shutil.which("wrk") is None:
        return "wrk is not installed (Debian: apt-get install -y wrk)"
    print("api", file=sys.stderr)
    job = clients.wait(local.url, clients.submit(local.url, photo.read_bytes(), FOUR_OUTPUTS,
                                                 key=local.key), key=local.key)
    targets = {
        "bare Flask JSON": f"{bare.url}/health",
        "GET /api/health": f"{local.url}/api/health",
        "GET /api/v1/jobs/<id> (4 outputs)": f"{local.url}/api/v1/jobs/{job['id']}",
    }
    runs: dict[str, list[WrkResult]] = {name: [] for name in targets}
    names = list(targets)
    for number in range(plan.wrk_rounds):
        for name in names[number % 3:] + names[:number % 3]:
            key = local.key if targets[name].startswith(local.url + "/api/v1") else None
            runs[name].append(wrk(targets[name], plan.wrk_seconds, key))
            print(f"  {name}: {runs[name][-1]}", file=sys.stderr, flush=True)
    return {name: WrkResult(
        requests_per_second=sum(r.requests_per_second for r in found) / len(found),
        p50_ms=sum(r.p50_ms for r in found) / len(found),
        p99_ms=max(r.p99_ms for r in found),
        errors=sum(r.errors for r in found),
    ) for name, found in runs.items()}


def uploads(plan: Plan, data: bytes, local: Stack, bare: Stack) -> dict[str, Rate]:
    """Upload throughput with the consumer paused, so only the upload path is measured."""
    print("uploads", file=sys.stderr)
    local.pause_consumer(True)
    try:
        return alternate(plan.upload_rounds, {
            "bare Flask upload": lambda: clients.upload_batch(bare.url, data, plan.uploads,
                                                              "/upload"),
            "POST /api/v1/jobs": lambda: clients.upload_batch(
                local.url, data, plan.uploads, "/api/v1/jobs", clients.THUMBNAIL, local.key),
        }, plan.uploads)
    finally:
        local.pause_consumer(False)


def denoise(plan: Plan) -> str:
    print("denoise", file=sys.stderr)
    done = subprocess.run([sys.executable, "-m", "bench.denoise_speed", *plan.denoise_args],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"denoise benchmark failed:\n\n```\n{done.stderr.strip()[-2000:]}\n```"
    return done.stdout.strip()
