"""Standard Webhooks signatures, checked against an independent implementation of the spec."""

from __future__ import annotations

import base64
import time

import pytest

from pixtools.webhooks import signing
from tests.support.webhooks import spec_signature

# The example of the Standard Webhooks specification (its test vector).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_matches_the_specification_test_vector():
    headers = signing.headers(SPEC_SECRET, SPEC_ID, SPEC_BODY, SPEC_TIMESTAMP)
    assert headers == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    assert spec_signature(SPEC_SECRET, SPEC_ID, str(SPEC_TIMESTAMP),
                          SPEC_BODY.encode()) == SPEC_SIGNATURE


def test_new_secrets_are_32_random_bytes():
    secrets = {signing.new_secret() for _ in range(5)}
    assert len(secrets) == 5
    for secret in secrets:
        signing.check_secret(secret)
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert signing.new_message_id().startswith("msg_")


def test_verify_reports_valid_invalid_and_stale():
    secret = signing.new_secret()
    body = b'{"type":"job.succeeded"}'
    now = int(time.time())
    good = signing.headers(secret, "msg_1", body.decode(), now)
    assert signing.verify(secret, body, good)[0] == signing.VALID
    # Header names are case-insensitive; several signatures may be offered.
    offered = {k.title(): v for k, v in good.items()}
    offered["Webhook-Signature"] = "v1,AAAA " + good["webhook-signature"]
    assert signing.verify(secret, body, offered)[0] == signing.VALID
    assert signing.verify(secret, body + b" ", good)[0] == signing.INVALID
    assert signing.verify(signing.new_secret(), body, good)[0] == signing.INVALID
    assert signing.verify(secret, body, {**good, "webhook-id": "msg_2"})[0] == signing.INVALID
    assert signing.verify(secret, body, {"webhook-id": "x"})[0] == signing.INVALID
    old = signing.headers(secret, "msg_1", body.decode(), now - 3600)
    verdict, detail = signing.verify(secret, body, old, now=now)
    assert verdict == signing.STALE and "3600 s old" in detail


@pytest.mark.parametrize("bad", ["secret", "whsec_!!!", "whsec_" + "A" * 8])
def test_bad_secrets_are_refused(bad):
    with pytest.raises(ValueError):
        signing.check_secret(bad)


def test_the_documented_receiver_example_verifies_our_signatures():
    import re
    from pathlib import Path

    # The receiver example lives in the webhooks guide, under "## Signatures".
    guide = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    section = guide.split("## Signatures", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)
    secret = signing.new_secret()
    body = b'{"type":"job.failed"}'
    headers = signing.headers(secret, "msg_readme", body.decode())
    assert namespace["verify"](secret, headers, body) is True
    assert namespace["verify"](secret, headers, body + b"x") is False
    stale = signing.headers(secret, "msg_readme", body.decode(), int(time.time()) - 600)
    assert namespace["verify"](secret, stale, body) is False
