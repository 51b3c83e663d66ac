"""The page stays light and scores well: its own CSS and JavaScript (htmx and the font
aside) stay under 60 KB gzipped, and Lighthouse (npm's lighthouse, run with Debian's
Chromium) rates the home page's performance ≥ 90 and its accessibility and best practices
≥ 95 (the best of up to three runs). The scores are written to
test-artifacts/lighthouse.json."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
from pathlib import Path

from tests.support.environment import REPO, service_missing
from tests.support.pages import ARTIFACTS

BUDGET = 60_000
LIGHTHOUSE = REPO / "node_modules" / ".bin" / "lighthouse"
MINIMUM = {"performance": 0.90, "accessibility": 0.95, "best-practices": 0.95}


def own_assets(html: str) -> list[str]:
    """The scripts and style sheets the page loads from its own static folder."""
    found = re.findall(r'(?:src|href)="(/static/[^"]+\.(?:js|css))"', html)
    return [path for path in found if "/vendor/" not in path]


def test_own_css_and_js_stay_under_60_kb_gzipped(client):
    html = client.get("/").get_data(as_text=True)
    assets = own_assets(html)
    assert "/static/style.css" in assets and "/static/app.js" in assets
    sizes = {}
    for path in assets:
        reply = client.get(path)
        assert reply.status_code == 200
        sizes[path] = len(gzip.compress(reply.get_data(), compresslevel=9))
        reply.close()
    total = sum(sizes.values())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "page-weight.json").write_text(json.dumps({**sizes, "total": total}, indent=2))
    assert total < BUDGET, sizes


def lighthouse(url: str, report: Path) -> dict[str, float]:
    run = subprocess.run(
        [str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={report}",
         "--only-categories=performance,accessibility,best-practices",
         "--chrome-flags=--headless=new --no-sandbox --disable-gpu"],
        env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"}, capture_output=True,
        text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    categories = json.loads(report.read_text())["categories"]
    return {name: categories[name]["score"] for name in MINIMUM}


def test_lighthouse_scores_the_home_page(desktop, tmp_path):
    if not LIGHTHOUSE.exists():
        service_missing("npm's lighthouse in node_modules (`npm ci` installs it)")
    server = desktop()
    # Performance is timed on a machine others share: a busy moment costs a run, so up to
    # three runs are made and the first that meets every minimum counts (all are kept).
    runs = []
    for attempt in range(3):
        runs.append(lighthouse(server.base + "/", tmp_path / f"lighthouse-{attempt}.json"))
        if all(runs[-1][name] >= low for name, low in MINIMUM.items()):
            break
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "lighthouse.json").write_text(json.dumps(runs, indent=2))
    assert all(runs[-1][name] >= low for name, low in MINIMUM.items()), runs
