"""Shared steps of the recovery tests: submit a job, read and stage its rows, run a task."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from tests.support.images import make_image

TWO_STEPS = json.dumps(
    {"outputs": [{"steps": [{"op": "resize", "width": 32}, {"op": "convert", "format": "png"}]}]}
)


def post(client: Any, recipe: str = TWO_STEPS, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        "/api/v1/jobs",
        data={"file": (io.BytesIO(make_image((64, 48))), "photo.jpg"), "recipe": recipe},
        content_type="multipart/form-data",
        headers=headers or {},
    )


def steps_of(job_id: str) -> list[Any]:
    from pixtools.db import db
    from pixtools.models import Output, Step

    db.session.expire_all()
    return list(db.session.execute(
        select(Step).join(Output).where(Output.job_id == job_id)
        .order_by(Output.position, Step.position)
    ).scalars())


def job_of(job_id: str) -> Any:
    from pixtools.db import db
    from pixtools.models import Job

    db.session.expire_all()
    return db.session.get(Job, job_id)


def set_step(step_id: int, **values: Any) -> None:
    """Put a step row in the state a worker left it in (the test's stand-in for a crash)."""
    from pixtools.db import db
    from pixtools.models import Step

    db.session.execute(update(Step).where(Step.id == step_id).values(**values))
    db.session.commit()


def ago(seconds: float) -> Any:
    from pixtools.models import utcnow

    return utcnow() - timedelta(seconds=seconds)


def pending_step_ids(app: Any, queue: str = "standard") -> list[int]:
    from pixtools.queues import get_queues

    return [t.args[0] for t in get_queues(app).by_name(queue).pending() if t.name == "run_steps"]


def run_step(step_id: int) -> None:
    """What a consumer does with the task: run it here, in this process."""
    from pixtools.tasks.pipeline import run_steps

    run_steps(step_id)
