"""The app refuses to start without the browser assets it serves, and says what to run."""

from __future__ import annotations

import json
import shutil

import pytest

from pixtools.http import assets
from tests.support.environment import REPO


def test_every_asset_the_app_requires_is_one_the_npm_lock_vendors():
    from pixtools import api, web

    vendored = set(json.loads((REPO / "package.json").read_text())["vendor"])
    required = set(web.PAGE_ASSETS) | set(api.REFERENCE_ASSETS)
    assert required <= vendored
    # Everything vendored is needed by some part (licence notices travel with their files).
    notices = {name for name in vendored if name.rsplit("/", 1)[-1] in ("LICENSE", "NOTICE")}
    assert vendored - required - notices == set()
    assert assets.missing(required) == []


def test_the_app_refuses_to_start_without_the_page_assets(tmp_path, monkeypatch):
    from pixtools import create_app

    vendor = tmp_path / "vendor"
    shutil.copytree(assets.VENDOR, vendor)
    (vendor / "htmx.min.js").unlink()
    monkeypatch.setattr(assets, "VENDOR", vendor)
    with pytest.raises(assets.AssetsMissing) as refused:
        create_app({"mode": "desktop", "data_dir": tmp_path / "data", "secret_key": "x"})
    message = str(refused.value)
    assert "htmx.min.js" in message and str(vendor) in message
    assert "git checkout -- pixtools/static/vendor" in message and "make assets" in message
    # With the file back, the same settings start.
    shutil.copy2(REPO / "pixtools" / "static" / "vendor" / "htmx.min.js", vendor)
    assert create_app({"mode": "desktop", "data_dir": tmp_path / "data", "secret_key": "x"})
