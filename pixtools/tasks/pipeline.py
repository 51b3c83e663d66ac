"""The ``run_steps`` task: run an output's steps that belong to this queue, then hand over.

Consecutive steps on one queue run in one task with the image kept in memory. When the next
step belongs to the other queue, the image is stored losslessly and that step is enqueued
there; after the last step the result is encoded and stored under a deterministic key.
"""

from __future__ import annotations

import functools
import logging
import traceback

from flask import current_app
from PIL import Image

from .. import imaging, jobs
from ..db import db
from ..errors import PixToolsError, StepFailed
from ..models import FINISHED, QUEUED, Output, Step
from ..operations.convert import ConvertParams, encoder_options
from ..recovery import LeaseKeeper, LeaseLost
from ..storage import StorageError, get_storage
from .runner import run_operation

log = logging.getLogger(__name__)


def run_steps(step_id: int) -> None:
    step = jobs.load_step(step_id)
    if step is None or step.output.job.status in FINISHED or step.status in FINISHED:
        log.info("nothing to run", extra={"step_id": step_id})
        return
    claimed = jobs.claim_step(step_id)
    if claimed is None:
        # A duplicate delivery (the sweeper re-enqueued a step that was only slow): the
        # step is someone else's, or already done.
        log.info("step already taken", extra={"step_id": step_id})
        return
    with LeaseKeeper(current_app._get_current_object(), claimed) as lease:  # type: ignore[attr-defined]
        try:
            _run_from(claimed, lease)
        except LeaseLost:
            log.warning("step taken over by another worker", extra={"step_id": step_id})
            db.session.rollback()
        except (PixToolsError, StepFailed) as exc:
            _fail_current(claimed.output, str(exc), lease)
        except StorageError as exc:
            _fail_current(claimed.output, str(exc), lease, traceback.format_exc())
        except Exception as exc:  # never let one image take the consumer down
            log.exception("step crashed", extra={"step_id": step_id})
            _fail_current(claimed.output, f"internal error ({type(exc).__name__}); try again "
                          "or report it", lease, traceback.format_exc())


def _fail_current(output: Output, reason: str, lease: LeaseKeeper,
                  trace: str | None = None) -> None:
    db.session.rollback()
    if lease.lost:
        return  # the step is another worker's now: leave its state alone
    current = next((s for s in output.steps if s.status not in FINISHED), output.steps[-1])
    # Failures of the input are the user's to fix; anything else is kept as a dead letter.
    jobs.fail_step(current, reason, dead_letter=trace is not None, trace=trace)


def _run_from(first: Step, lease: LeaseKeeper) -> None:
    output = first.output
    job = output.job
    settings = current_app.extensions["pixtools.settings"]
    limits = imaging.Limits(max_pixels=settings.max_pixels, max_side=settings.max_side)
    storage = get_storage(current_app)
    if first.position == 0:
        image = imaging.decode(storage.get(job.source_key), limits)
    else:
        key = jobs.handoff_key(job.id, output.position, first.position - 1)
        image = imaging.decode(storage.get(key), limits, auto_orient=False)

    # Each step stays running, its lease renewed, until the next one starts or its
    # image is stored: a worker dying at any point leaves a lease that lapses.
    step = first
    while True:
        image = run_operation(
            step.op, step.params, image, functools.partial(jobs.report_progress, step.id)
        )
        following = _next_step(output, step)
        if following is None or following.queue != first.queue:
            break
        lease.check()
        jobs.finish_step(step)
        jobs.start_step(following)
        lease.hold(following)
        step = following

    if following is not None:
        # The next step runs on the other queue: hand the image over losslessly.
        key = jobs.handoff_key(job.id, output.position, step.position)
        storage.put(key, imaging.encode(image, "png", {"compress_level": 1}), "image/png")
        lease.check()
        jobs.hand_over(step, following)
        return
    _store_result(output, image, lease)


def _next_step(output: Output, step: Step) -> Step | None:
    later = [s for s in output.steps if s.position > step.position and s.status == QUEUED]
    return later[0] if later else None


def _store_result(output: Output, image: Image.Image, lease: LeaseKeeper) -> None:
    settings = current_app.extensions["pixtools.settings"]
    job = output.job
    converts = [s for s in output.steps if s.op == "convert"]
    if converts:
        params = ConvertParams.model_validate(converts[-1].params)
    else:
        # No convert step: keep the source format when we can write it, else PNG.
        same = job.source_format if job.source_format in imaging.OUTPUT_FORMATS else "png"
        params = ConvertParams(format=same)
        image = run_operation("convert", params.model_dump(), image, lambda f: None)
    data = imaging.encode(image, params.format, encoder_options(params, settings.avif_speed))
    key = jobs.result_key(job.id, output.position, imaging.EXTENSIONS[params.format])
    get_storage(current_app).put(key, data, imaging.CONTENT_TYPES[params.format])
    lease.check()
    jobs.finish_output(output, key=key, fmt=params.format, size=image.size, nbytes=len(data))
