"""The ``flask pixtools …`` commands, one module per topic (registered in ``commands``)."""

from typing import Any

JOB_ID_COMMAND: dict[str, Any] = {"ignore_unknown_options": True}
"""Settings for a command whose argument is a job id: an id made before ids stopped
beginning with "-" is taken as the id, not refused as an unknown option."""
