"""The whole benchmark suite in one command; writes ``bench/RESULTS.md``.

    python -m bench.run            # full run (~10 minutes)
    python -m bench.run --quick    # fewer photos and rounds, a smaller denoise, for iteration

Needs PostgreSQL and Redis on 127.0.0.1 (as the tests do), ``wrk`` for the API figures
(Debian: ``apt-get install -y wrk``) and Python 3.11 for thumbor, which is installed into
``bench/.cache/thumbor-venv`` on first use. Set ``PIXTOOLS_SHARED_DIR`` when the shared
folder (CBSD68, DnCNN weights) is not beside the repository.

Every figure is a ratio to an anchor measured in the same run: the systems are run in
alternating rounds (the order rotates each round), so load from other processes on the
machine falls on all of them alike.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import budget, clients, measures, report, stack
from bench.photos import photos, upload_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer photos and rounds")
    parser.add_argument("--no-denoise", action="store_true", help="skip the denoise figures")
    parser.add_argument("--only", choices=["thumbnails", "budget", "conversions", "api",
                                                  "uploads"],
                        nargs="*", help="run only these parts (no RESULTS.md is written)")
    parser.add_argument("--output", type=Path, default=report.RESULTS)
    parser.add_argument("--poll-ms", type=float, default=clients.POLL_SECONDS * 1000,
                        help="poll a job's status this often instead of waiting for it "
                             "with ?wait= (0, the default, waits)")
    args = parser.parse_args()
    clients.POLL_SECONDS = args.poll_ms / 1000
    plan = measures.Plan.quick() if args.quick else measures.Plan.full()
    parts = set(args.only or ["thumbnails", "budget", "conversions", "api", "uploads"])
    results = report.Results(plan=plan, quick=args.quick)
    results.start()
    paths = photos(plan.photos)
    upload = upload_image()
    results.thumbor_problem = stack.install_thumbor()

    with contextlib.ExitStack() as running:
        # Its own redis-server, so that the CPU budget can count Redis's share of a job.
        local = running.enter_context(stack.pixtools_stack("local", private_redis=True))
        s3 = running.enter_context(stack.pixtools_stack("s3", storage="s3"))
        thumbor = None
        if results.thumbor_problem is None:
            thumbor = running.enter_context(stack.thumbor_stack(paths[0].parent))
        pool = running.enter_context(multiprocessing.get_context("spawn").Pool(
            clients.CONCURRENCY))
        bare = running.enter_context(stack.bare_stack())
        desktop = running.enter_context(stack.desktop_stack())
        if "thumbnails" in parts:
            results.thumbnails = measures.thumbnails(plan, paths, local, s3, thumbor, pool,
                                                     desktop)
            results.journey = measures.journey(plan, paths, local)
        if "budget" in parts:
            results.budget = budget.measure(local, paths, plan.budget_jobs, thumbor)
        if "conversions" in parts:
            results.conversions = measures.conversions(plan, paths, local, pool)
        if "api" in parts:
            results.api = measures.api(plan, paths[0], local, bare)
        if "uploads" in parts:
            results.uploads = measures.uploads(plan, upload, local, bare)
        results.rss = local.peak_rss()
    if not args.no_denoise and not args.only:
        results.denoise = measures.denoise(plan)
    results.finish()
    text = report.render(results) + report.kept_sections(args.output)
    print(text)
    if not args.only:
        args.output.write_text(text)
        print(f"written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
