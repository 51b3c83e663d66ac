"""What a user receives from `pip install`: a clean clone with no npm builds an sdist and a
wheel (the wheel from the sdist, as `python -m build` does); the wheel, installed with the
lock's runtime packages into a fresh virtualenv, runs `pixtools desktop`, and its page works
in Chromium: htmx and the font load, and an uploaded image's card reaches Done.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import REPO
from tests.support.environment import free_port, wait_for
from tests.support.images import make_image

ASSETS = ["pixtools/static/vendor/htmx.min.js",
          "pixtools/static/vendor/fonts/space-grotesk-latin-wght-normal.woff2",
          "pixtools/static/vendor/fonts/LICENSE",
          "pixtools/templates/index.html"]
# Inside the package (pixtools/db.py: MIGRATIONS_DIR): desktop start-up, `pixtools db
# upgrade` and the images' `flask --app wsgi db upgrade` migrate from there.
MIGRATIONS = ["pixtools/migrations/alembic.ini", "pixtools/migrations/env.py",
              "pixtools/migrations/script.py.mako"]


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def no_node_env(tmp: Path) -> dict[str, str]:
    """The environment minus Node: PATH is a folder holding only this Python."""
    bin_dir = tmp / "bin-without-node"
    bin_dir.mkdir(exist_ok=True)
    for name in ("python", "python3"):
        if not (bin_dir / name).exists():
            (bin_dir / name).symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith(("COV_", "COVERAGE"))}
    env["PATH"] = str(bin_dir)
    assert shutil.which("npm", path=env["PATH"]) is None
    assert shutil.which("node", path=env["PATH"]) is None
    return env


@pytest.fixture(scope="module")
def clean_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files a clone of this checkout holds (tracked, or new and not ignored): no
    node_modules, nothing `make` produced."""
    dest = tmp_path_factory.mktemp("clone") / "pixtools"
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                 cwd=REPO).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    assert not (dest / "node_modules").exists()
    return dest


@pytest.fixture(scope="module")
def dists(clean_clone: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(clean_clone)],
        env=no_node_env(out.parent), cwd=out)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def test_sdist_and_wheel_carry_the_page_assets(dists):
    with tarfile.open(dists["sdist"]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert set(ASSETS) <= names
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        in_wheel = set(wheel.namelist())
        assert set(ASSETS) <= in_wheel
        assert set(MIGRATIONS) <= in_wheel
        versions = {p.name for p in (REPO / "pixtools" / "migrations" / "versions").glob("*.py")}
        assert versions == {Path(n).name for n in in_wheel
                            if n.startswith("pixtools/migrations/versions/")
                            and n.endswith(".py")}
        # Nothing outside the package: the stopgap top-level `migrations` is gone.
        assert {n.split("/")[0] for n in in_wheel if "/" in n} == {
            "pixtools", f"{dists['wheel'].name.split('-')[0]}-"
            f"{dists['wheel'].name.split('-')[1]}.dist-info"}
        shipped = wheel.read("pixtools/static/vendor/htmx.min.js")
    assert shipped == (REPO / ASSETS[0]).read_bytes()


@pytest.fixture(scope="module")
def installed(dists: dict[str, Path], clean_clone: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv: the lock's runtime packages, then the wheel (no ml, no dev)."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    env = no_node_env(venv.parent)
    run([sys.executable, "-m", "venv", str(venv)], env=env)
    python = str(venv / "bin" / "python")
    run(["bash", str(clean_clone / "scripts" / "install-deps.sh"), python, "runtime"],
        env={**env, "PATH": f"{env['PATH']}:/usr/bin:/bin"})
    run([python, "-m", "pip", "install", "--no-deps", str(dists["wheel"])], env=env)
    where = run([python, "-c", "import pixtools; print(pixtools.__file__)"], env=env,
                cwd=venv.parent).stdout
    assert where.startswith(str(venv)), where  # the installed copy, not this checkout
    return venv


def test_the_installed_wheel_serves_a_page_that_works(installed, browser, tmp_path):
    port = free_port()
    log = tmp_path / "desktop.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(installed / "bin" / "pixtools"), "desktop", "--no-browser", "--port", str(port),
             "--data-dir", str(tmp_path / "data")],
            cwd=tmp_path, env={**no_node_env(tmp_path), "PIXTOOLS_STANDARD_WORKERS": "1"},
            stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "running at" in log.read_text() or proc.poll() is not None, timeout=90)
        assert proc.poll() is None, log.read_text()
        context = browser.new_context()
        context.set_default_timeout(60_000)
        page = context.new_page()
        vendor = []
        page.on("response", lambda r: "/static/vendor/" in r.url and vendor.append(r.status))
        page.goto(f"http://127.0.0.1:{port}/")
        assert page.evaluate("typeof htmx") == "object"
        page.evaluate("document.fonts.ready")
        assert page.evaluate("document.fonts.check('700 16px \"Space Grotesk\"')")
        page.set_input_files("#file", files=[{"name": "photo.jpg", "mimeType": "image/jpeg",
                                              "buffer": make_image((320, 240))}])
        page.click("#submit")
        card = page.locator("#jobs .card").first
        card.wait_for()
        # The card follows the job by itself (htmx polling) until it is done.
        page.locator("#jobs .card[data-status='succeeded']").wait_for()
        assert card.locator("img.result-image").count() >= 1
        assert vendor and set(vendor) == {200}, vendor
        context.close()
    finally:
        proc.send_signal(2)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "Stopped." in log.read_text()


def alembic_revision(database_url: str, *, empty_first: bool = False) -> str | None:
    """The database's revision (None: not migrated); ``empty_first`` empties it instead."""
    import sqlalchemy

    from pixtools.db import engine_url

    engine = sqlalchemy.create_engine(engine_url(database_url))
    try:
        with engine.begin() as connection:
            if empty_first:
                connection.execute(sqlalchemy.text("DROP SCHEMA public CASCADE"))
                connection.execute(sqlalchemy.text("CREATE SCHEMA public"))
                return None
            return connection.execute(
                sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from pixtools.db import MIGRATIONS_DIR

    (head,) = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    return head


def test_the_installed_wheel_migrates_with_pixtools_db_upgrade(installed, tmp_path):
    """`pixtools db upgrade` from anywhere: the migrations travel inside the package."""
    env = {**no_node_env(tmp_path), "PIXTOOLS_DATA_DIR": str(tmp_path / "data")}
    run([str(installed / "bin" / "pixtools"), "db", "upgrade"], env=env, cwd=tmp_path)
    assert alembic_revision(f"sqlite:///{tmp_path / 'data' / 'pixtools.db'}") == head_revision()


def test_the_image_layout_migrates_postgresql_with_flask_db_upgrade(installed, postgres_url,
                                                                     tmp_path):
    """What the migrate Job and compose's `migrate` run in /app: the installed wheel, with
    wsgi.py and gunicorn.conf.py beside it, `flask --app wsgi db upgrade` in server mode."""
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    for name in ("wsgi.py", "gunicorn.conf.py"):
        shutil.copy2(REPO / name, app_dir / name)
    env = {**no_node_env(tmp_path), "PIXTOOLS_MODE": "server",
           "PIXTOOLS_DATABASE_URL": postgres_url, "PIXTOOLS_REDIS_URL": "redis://127.0.0.1:1/0",
           "PIXTOOLS_STORAGE_URL": "s3://unused/pixtools",
           "PIXTOOLS_SECRET_KEY": "migrate-test-secret-0123456789abcdef0123456789"}
    alembic_revision(postgres_url, empty_first=True)
    run([str(installed / "bin" / "flask"), "--app", "wsgi", "db", "upgrade"], env=env,
        cwd=app_dir)
    assert alembic_revision(postgres_url) == head_revision()
    # Again, as a re-applied release does: nothing to do, nothing fails.
    run([str(installed / "bin" / "flask"), "--app", "wsgi", "db", "upgrade"], env=env,
        cwd=app_dir)


def test_the_installed_wheel_refuses_to_start_without_its_page_assets(installed, tmp_path):
    """Not a page that never moves: desktop mode exits at once, naming what to do."""
    where = run([str(installed / "bin" / "python"), "-c",
                 "import pixtools.http.assets as a; print(a.VENDOR)"],
                env=no_node_env(tmp_path), cwd=tmp_path).stdout.strip()
    htmx = Path(where) / "htmx.min.js"
    aside = tmp_path / "htmx.min.js"
    shutil.move(htmx, aside)
    try:
        refused = subprocess.run(
            [str(installed / "bin" / "pixtools"), "desktop", "--no-browser", "--port", "0",
             "--data-dir", str(tmp_path / "data")],
            cwd=tmp_path, env=no_node_env(tmp_path), capture_output=True, text=True,
            timeout=120)
    finally:
        shutil.move(aside, htmx)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "htmx.min.js" in refused.stderr and "reinstall PixTools" in refused.stderr
    assert "running at" not in refused.stdout
