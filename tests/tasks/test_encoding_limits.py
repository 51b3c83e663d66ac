"""The search's bounds come from the settings (``PIXTOOLS_QUALITY_*``)."""

from __future__ import annotations

import io

import pytest

from tests.support.images import photo_like
from tests.support.jobs import outputs, submit


@pytest.fixture
def desktop_config(desktop_config):
    return {**desktop_config, "quality_max_encodes": 2, "quality_close_enough": 0}


def test_an_unreachable_target_ends_within_the_encode_budget_with_a_note(run_now):
    buffer = io.BytesIO()
    photo_like("noisy", (160, 120), seed=2).save(buffer, format="PNG")
    recipe = {"outputs": outputs([{"op": "convert", "format": "jpeg", "quality": "auto",
                                   "quality_target": 97}])}
    job = submit(run_now, buffer.getvalue(), recipe, name="noisy.png")
    assert job["status"] == "succeeded", job
    output = job["outputs"][0]
    auto = output["details"]["auto"]
    assert len(auto["tried"]) == 2
    assert auto["reached"] is False
    assert auto["score"] == max(tried["score"] for tried in auto["tried"])
    assert output["details"]["notes"] == auto["notes"]
    assert auto["notes"][0].startswith("quality_target 97 is not reachable with jpeg")
