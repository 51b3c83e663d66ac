"""Photo-like test images for the quality package (``tests.support.images.photo_like``)."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.support.images import photo_like


@pytest.fixture(scope="session")
def photo() -> Image.Image:
    return photo_like("detailed")
