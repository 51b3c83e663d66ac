"""The documentation keeps its shape: a short README that points into docs/, and every
setting described once in the configuration reference."""

from __future__ import annotations

import re

from pixtools.config import Settings
from tests.support.environment import REPO

README_LIMIT = 12 * 1024


def test_the_readme_is_short_and_links_into_docs():
    readme = (REPO / "README.md").read_text()
    assert len(readme.encode()) <= README_LIMIT
    assert "make run" in readme and "make test" in readme
    for target in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / target).is_file(), target


def test_every_setting_is_documented_once():
    reference = (REPO / "docs" / "configuration.md").read_text()
    for name in sorted(Settings.env_names()):
        count = len(re.findall(rf"`{name}`", reference))
        assert count >= 1, f"{name} is not in docs/configuration.md"
    rows = re.findall(r"^\| `(PIXTOOLS_[A-Z0-9_]+)`", reference, re.M)
    assert len(rows) == len(set(rows)), "a setting has two rows in the reference"
    assert Settings.env_names() <= set(rows)
