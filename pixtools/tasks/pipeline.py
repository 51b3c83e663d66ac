"""The ``run_steps`` task: run an output's steps that belong to this queue, then hand over.

Consecutive steps on one queue run in one task with the picture kept in memory. When the
next step belongs to the other queue, the picture is stored losslessly (PNG, or APNG for an
animation, with its kept colour profile and its notes) and that step is enqueued there;
after the last step the result is encoded (``encoding``: a fixed quality, or a search for
the quality and format) with exactly the metadata the recipe allows and stored under a
deterministic key.

Colour and orientation are settled when the source is decoded, before any handoff, so both
queues work on the same upright, converted pixels.
"""

from __future__ import annotations

import functools
import logging
import traceback
from typing import Any

from flask import current_app

from .. import imaging, jobs
from ..db import db
from ..errors import PixToolsError, StepFailed
from ..imaging import embedded, handoff
from ..jobs import LeaseKeeper, LeaseLost
from ..models import Output, Step
from ..models.state import FINISHED, QUEUED
from ..operations import DETAILS_KEY, REGISTRY, encoding_op
from ..operations.convert import ConvertParams
from ..recipe import RecipeOptions, options_of
from ..storage import StorageError, get_storage
from . import budget, encoding
from .runner import run_operation

log = logging.getLogger(__name__)
STORAGE_FAILED = ("the image could not be read or stored because of a storage problem on "
                  "the server (reported to the operator): try again later")


def run_steps(step_id: int) -> None:
    # This task is the only writer of its step and output rows, and the job's end is decided
    # by one conditional UPDATE (``jobs.finalise``): rows loaded here stay valid across its
    # commits.
    claimed = jobs.claim_step(step_id)
    if claimed is None:
        # A duplicate delivery (the sweeper re-enqueued a step that was only slow: the step
        # is someone else's, or already done), or a job that ended (expired, deleted).
        log.info("nothing to run: step taken, done or its job ended",
                 extra={"step_id": step_id})
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
            # The user sees a generic reason; the bucket, endpoint and error are for the
            # operator (the log and the dead letter).
            log.exception("storage failed", extra={"step_id": step_id})
            _fail_current(claimed.output, STORAGE_FAILED, lease, traceback.format_exc(),
                          detail=str(exc))
        except Exception as exc:  # never let one image take the consumer down
            log.exception("step crashed", extra={"step_id": step_id})
            _fail_current(claimed.output, f"internal error ({type(exc).__name__}); try again "
                          "or report it", lease, traceback.format_exc())


def _fail_current(output: Output, reason: str, lease: LeaseKeeper,
                  trace: str | None = None, detail: str | None = None) -> None:
    db.session.rollback()
    if lease.lost:
        return  # the step is another worker's now: leave its state alone
    current = next((s for s in output.steps if s.status not in FINISHED), output.steps[-1])
    # Failures of the input are the user's to fix; anything else is kept as a dead letter.
    try:
        jobs.fail_step(current, reason, dead_letter=trace is not None, trace=trace,
                       attempt=lease.attempt if current.id == lease.step_id else None,
                       detail=detail)
    except LeaseLost:  # taken over while failing: the new holder decides
        log.warning("step taken over; its failure is not recorded",
                    extra={"step_id": current.id})


def _target(output: Output) -> ConvertParams:
    """The final encoding: the last encoding step's, else the source's format."""
    encoder = encoding_op()
    chosen = [s for s in output.steps if s.op == encoder.name]
    if chosen:
        return ConvertParams.model_validate(chosen[-1].params)
    return ConvertParams.model_validate(
        {"format": imaging.output_format_for(output.job.source_format)}
    )


def _size_hint(first: Step) -> imaging.SizeHint | None:
    """What the first step needs of the decode, so a JPEG can be decoded at reduced size."""
    operation = REGISTRY[first.op]
    hint = operation.size_hint
    if hint is None:
        return None
    params = operation.params.model_validate(first.params)
    return lambda size: hint(size, params)


def _decode_source(first: Step, options: RecipeOptions, target: ConvertParams,
                   limits: imaging.Limits) -> imaging.Picture:
    job = first.output.job
    picture = imaging.decode_picture(
        get_storage(current_app).get(job.source_key),
        limits,
        auto_orient=options.auto_orient,
        colour=options.colour,
        animate=encoding.keeps_animation(target),
        size_hint=_size_hint(first),
    )
    if picture.source_frames > 1 and len(picture.frames) == 1 and not picture.notes:
        picture.notes.append(
            f"The source is animated ({picture.source_frames} frames) and "
            f"{'/'.join(target.possible_formats).upper()} cannot store animation: "
            "only the first frame was used. Convert to GIF, WebP, PNG or AVIF to keep the "
            "animation."
        )
    return picture


def _run_from(first: Step, lease: LeaseKeeper) -> None:
    output = first.output
    job = output.job
    settings = current_app.extensions["pixtools.settings"]
    limits = imaging.Limits.from_settings(settings)
    options = options_of(job.options)
    target = _target(output)
    storage = get_storage(current_app)
    if first.position == 0:
        picture = _decode_source(first, options, target, limits)
    else:
        key = jobs.handoff_key(job.id, output.position, first.position - 1)
        picture = handoff.decode(storage.get(key), limits)

    # Each step stays running, its lease renewed, until the next one starts or its
    # picture is stored: a worker dying at any point leaves a lease that lapses.
    step = first
    while True:
        picture.frames = run_operation(
            step.op, step.params, picture.frames, functools.partial(jobs.report_progress, step.id)
        )
        _collect_details(picture, step.op)
        following = _next_step(output, step)
        if following is None or following.queue != first.queue:
            break
        lease.check()
        # Committed together with the next step's start: one round trip, not two.
        jobs.finish_step(step, commit=False)
        jobs.start_step(following)
        lease.hold(following)
        step = following

    if following is not None:
        # The next step runs on the other queue: hand the picture over losslessly.
        key = jobs.handoff_key(job.id, output.position, step.position)
        storage.put(key, handoff.encode(picture), "image/png")
        lease.check()
        jobs.hand_over(step, following)
        return
    _store_result(output, picture, options, target, lease)


def _collect_details(picture: imaging.Picture, op: str) -> None:
    """Move what the step left in its result's info (``DETAILS_KEY``) to the picture."""
    said = [frame.info.pop(DETAILS_KEY, None) for frame in picture.frames]
    if said[0] is not None:
        picture.details[op] = said[0]  # the first frame speaks for an animation


def _next_step(output: Output, step: Step) -> Step | None:
    later = [s for s in output.steps if s.position > step.position and s.status == QUEUED]
    return later[0] if later else None


def _store_result(output: Output, picture: imaging.Picture, options: RecipeOptions,
                  target: ConvertParams, lease: LeaseKeeper) -> None:
    settings = current_app.extensions["pixtools.settings"]
    storage = get_storage(current_app)
    job = output.job
    reports = [(s, REGISTRY[s.op]) for s in output.steps if REGISTRY[s.op].report is not None]
    source = picture.embedded
    if source is None and (reports or options.metadata != "strip" or not options.auto_orient):
        # After a handoff the decoded source is gone; its metadata is read again.
        source = imaging.read_embedded(storage.get(job.source_key))
    written = embedded.for_output(source, options.metadata, oriented=options.auto_orient)
    deadline = budget.Deadline(settings.step_max_seconds, "encoding the result")
    encoded = budget.run_within(deadline, lambda: encoding.encode_result(
        picture, target, written, avif_speed=settings.avif_speed,
        limits=settings.search_limits))
    key = jobs.result_key(job.id, output.position, imaging.EXTENSIONS[encoded.format])
    storage.put(key, encoded.data, imaging.CONTENT_TYPES[encoded.format])

    details: dict[str, Any] = dict(encoded.details)
    if picture.source_frames > 1:
        details["animation"] = {"source_frames": picture.source_frames,
                                "frames": len(picture.frames)}
    details.update(picture.details)
    for step, operation in reports:
        assert operation.report is not None and source is not None
        details[step.op] = operation.report(source, operation.params.model_validate(step.params))
    notes = picture.notes + encoded.notes
    if notes:
        details["notes"] = notes
    lease.check()
    jobs.finish_output(output, key=key, fmt=encoded.format, size=picture.size,
                       nbytes=len(encoded.data), details=details or None,
                       attempt=lease.attempt)
