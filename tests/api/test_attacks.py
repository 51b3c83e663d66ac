"""Every request-level attack of the corpus (tests/corpus/attacks.py) gets its answer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.corpus.attacks import ATTACKS, Attack
from tests.support.environment import settings_from_env


def _app(attack: Attack, request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    from pixtools import create_app, db

    if attack.mode == "desktop":
        from pixtools.desktop import own_hosts
        from pixtools.http import access

        app = create_app({"mode": "desktop", "data_dir": tmp_path / "data", **attack.settings})
        db.upgrade(app)
        access.allow_hosts(app, own_hosts("127.0.0.1", 8000))  # as `pixtools desktop` does
        return app
    request.getfixturevalue("server_app")  # migrated services
    env = request.getfixturevalue("server_env")
    return create_app({**settings_from_env(env), **attack.settings})


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_each_attack_is_answered_as_expected(attack, request, tmp_path):
    app = _app(attack, request, tmp_path)
    client = app.test_client()
    if attack.with_page_cookie:
        assert client.get("/").status_code == 200 and client.get_cookie("pixtools_owner")
    reply = client.open(attack.path, method=attack.method, headers=attack.headers,
                        environ_overrides=attack.environ)
    assert reply.status_code == attack.status, (attack.name, reply.get_data(as_text=True))
    text = reply.get_data(as_text=True)
    if attack.words.startswith("{"):  # a whole JSON body: compared without whitespace
        text = "".join(text.split())
    assert attack.words in text, (attack.name, text)
