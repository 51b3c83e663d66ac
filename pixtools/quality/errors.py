"""The one error of the quality package: a request it cannot honour, naming the field."""

from __future__ import annotations


class QualityError(ValueError):
    """Bad or unusable quality settings; ``field`` names the request field to fix (the web
    layer answers 422 with it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
