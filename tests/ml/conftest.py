"""The ML tests read the real weights and CBSD68 images through the fixtures in
``tests/conftest.py`` (``weights_path``, ``cbsd68_paths``): missing data skips locally and
fails under CI, so a broken CI layout cannot pass by skipping everything."""

from __future__ import annotations

import importlib.util

from tests.support.environment import IN_CI

# These modules import torch as they load: without the ml extra they are not collected (a
# line in the report header says so), except under CI, where that fails loudly.
TORCH_MODULES = ["test_ml_ffdnet.py", "test_ml_grey.py", "test_ml_inference.py", "test_ml_model.py",
                 "test_ml_quality.py"]
collect_ignore = (TORCH_MODULES if importlib.util.find_spec("torch") is None and not IN_CI
                  else [])


def pytest_report_header() -> str | None:
    if collect_ignore:
        return f"torch is not installed: {', '.join(collect_ignore)} not collected"
    return None
