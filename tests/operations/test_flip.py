"""flip: mirror images, checked pixel for pixel against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures.generate import photo
from tests.support.images import apply, psnr

SOURCE = photo((90, 60))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, lambda a: a[:, ::-1]),
        ({"direction": "horizontal"}, lambda a: a[:, ::-1]),
        ({"direction": "vertical"}, lambda a: a[::-1, :]),
    ],
)
def test_flip_mirrors(params, expected):
    result = apply("flip", SOURCE, **params)
    assert result.size == SOURCE.size
    assert psnr(result, expected(np.asarray(SOURCE))) == float("inf")


def test_flip_twice_is_the_original():
    once = apply("flip", SOURCE, direction="vertical")
    assert psnr(apply("flip", once, direction="vertical"), SOURCE) == float("inf")
