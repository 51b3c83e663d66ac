"""The page's vendored browser assets are exactly the npm releases package-lock.json pins.

They are committed under pixtools/static/vendor (so a wheel, an sdist, an image or a CI job
never needs npm); scripts/vendor-assets.sh refreshes them from the lock. Here each file is
compared with the same file inside the release tarball, whose sha512 must be the lock's
integrity value.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
from typing import Any

import pytest
import requests

from tests.deploy.helpers import REPO
from tests.support.environment import service_missing

VENDOR = REPO / "pixtools" / "static" / "vendor"
REGISTRY = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")


def vendor_map() -> dict[str, str]:
    """Vendored file (relative to VENDOR) → ``package/path`` inside node_modules."""
    mapping: dict[str, str] = json.loads((REPO / "package.json").read_text())["vendor"]
    return mapping


def package_of(source: str) -> tuple[str, str]:
    """``@scope/name/dist/x.js`` → (``@scope/name``, ``dist/x.js``)."""
    parts = source.split("/")
    size = 2 if parts[0].startswith("@") else 1
    return "/".join(parts[:size]), "/".join(parts[size:])


def locked(name: str) -> dict[str, Any]:
    lock = json.loads((REPO / "package-lock.json").read_text())
    entry: dict[str, Any] = lock["packages"][f"node_modules/{name}"]
    return entry


@pytest.fixture(scope="module")
def tarballs() -> dict[str, bytes]:
    """Each vendored package's release tarball, verified against the lock's integrity."""
    fetched: dict[str, bytes] = {}
    for name in sorted({package_of(source)[0] for source in vendor_map().values()}):
        entry = locked(name)
        url = f"{REGISTRY}/{name}/-/{name.split('/')[-1]}-{entry['version']}.tgz"
        try:
            response = requests.get(url, timeout=30)
        except requests.RequestException:
            service_missing(f"the npm registry ({url})")
        response.raise_for_status()
        algorithm, expected = entry["integrity"].split("-", 1)
        digest = base64.b64encode(hashlib.new(algorithm, response.content).digest()).decode()
        assert digest == expected, f"{url} is not the release package-lock.json pins"
        fetched[name] = response.content
    return fetched


@pytest.mark.parametrize("target", sorted(vendor_map()))
def test_vendored_file_is_the_locked_release(target: str, tarballs) -> None:
    name, inner = package_of(vendor_map()[target])
    with tarfile.open(fileobj=io.BytesIO(tarballs[name])) as tarball:
        member = tarball.extractfile(f"package/{inner}")
        assert member is not None
        released = member.read()
    assert (VENDOR / target).read_bytes() == released, (
        f"{target} differs from {name}@{locked(name)['version']}: run scripts/vendor-assets.sh")


def test_every_vendored_package_is_a_locked_dependency() -> None:
    declared = json.loads((REPO / "package.json").read_text())["dependencies"]
    for source in vendor_map().values():
        name, _ = package_of(source)
        assert declared[name] == locked(name)["version"], name


def test_the_page_uses_only_vendored_files_and_all_of_them_are_committed() -> None:
    pixtools = REPO / "pixtools"
    texts = [p.read_text() for p in (pixtools / "templates").rglob("*.html")]
    texts += [p.read_text() for p in (pixtools / "static").glob("*.css")]
    used = {m for text in texts for m in re.findall(r"vendor/([\w./-]+\.(?:js|woff2|css))", text)}
    notices = ("LICENSE", "NOTICE")  # shipped beside their files, loaded by nothing
    assert used == {t for t in vendor_map() if not t.endswith(notices)}
    for target in vendor_map():
        assert (VENDOR / target).is_file(), target
    # Nothing ignores them: a clean clone has them.
    ignored = subprocess.run(["git", "check-ignore", *(f"pixtools/static/vendor/{t}"
                                                       for t in vendor_map())],
                             cwd=REPO, capture_output=True, text=True, timeout=30)
    assert ignored.returncode == 1 and not ignored.stdout, ignored.stdout
