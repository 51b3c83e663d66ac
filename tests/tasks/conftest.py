"""Fixtures for jobs run through the real pipeline in this process."""

from __future__ import annotations

import pytest

from pixtools.queues import get_queues


@pytest.fixture
def run_now(app):
    queues = get_queues(app)
    queues.standard.immediate = True
    queues.ml.immediate = True
    yield app.test_client()
    queues.standard.immediate = False
    queues.ml.immediate = False
