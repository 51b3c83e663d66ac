"""SSRF protection: refused at submit (422) and again at send time, with a clear reason."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl

import pytest

from pixtools.config import ConfigError, load_settings
from pixtools.webhooks import http, outbox, ssrf
from tests.support.webhooks import Receiver, attempt, only_delivery, run_job, submit

PUBLIC = "http://93.184.215.14/hook"  # a public literal: accepted with no DNS lookup

REFUSED = [
    ("http://127.0.0.1/", "loopback"),
    ("http://localhost:8000/", "localhost resolves to 127.0.0.1, which is a loopback"),
    ("http://[::1]/", "loopback"),
    ("http://10.0.0.5/", "private-network"),
    ("http://172.16.3.4/", "private-network"),
    ("http://192.168.1.1/admin", "private-network"),
    ("http://[fd00::1]/", "private-network"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://224.0.0.251/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"),
    ("http://[::ffff:169.254.169.254]/", "IPv4-mapped"),
    ("http://[2002:a00:1::]/", "embeds an IPv4"),
    ("http://2130706433/", "unusual spelling of an IPv4 address (it means 127.0.0.1)"),
    ("http://0177.0.0.1/", "unusual spelling"),
    ("http://0x7f.0.0.1/", "unusual spelling"),
    ("http://127.1/", "unusual spelling"),
    ("http://0xa9fea9fe/", "it means 169.254.169.254"),
    ("http://[fe80::1%25eth0]/", "zone identifiers"),
    ("http://example.com@127.0.0.1/", "User names or passwords"),
    ("http://user:pass@hooks.example.com/", "User names or passwords"),
    ("http://hooks.invalid/", "does not resolve"),
    ("ftp://example.com/", "must start with http"),
    ("file:///etc/passwd", "must start with http"),
    ("gopher://127.0.0.1:6379/_INFO", "must start with http"),
    ("http:///path-only", "no host name"),
    ("http://exa mple.com/", "spaces"),
    ("http://example.com\\@127.0.0.1/", "backslashes"),
    ("http://127.0.0.1:99999/", "cannot be parsed"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED, ids=[u for u, _ in REFUSED])
def test_refused_at_submit_with_the_reason(client, url, reason):
    response = submit(client, url)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["error"] == "invalid_webhook_url" and body["field"] == "webhook_url"
    assert reason in body["message"]


def test_refused_at_send_time_too(client):
    """The same table, after the URL got into a finished job some other way: nothing is sent."""
    from pixtools.db import db
    from pixtools.models import Job, WebhookDelivery

    job_id = submit(client, PUBLIC).get_json()["id"]
    run_job(job_id)
    job = db.session.get(Job, job_id)
    for url, reason in REFUSED:
        job.webhook_url = url
        delivery_id = outbox.record(job).id  # as the job's end would record it
        db.session.commit()
        retry_in = attempt(delivery_id)
        row = db.session.get(WebhookDelivery, delivery_id)
        assert reason in row.last_error, (url, row.last_error)
        if reason == "does not resolve":  # DNS may come back: retried, never sent
            assert row.status == "pending" and retry_in is not None
        else:
            assert row.status == "failed", url
            assert row.last_error.startswith("refused at send time"), url
        assert row.last_status_code is None and row.history[0].latency_ms is None


def test_public_urls_pass():
    for url in (PUBLIC, "https://8.8.8.8:8443/a?b=c", "http://[2606:4700:4700::1111]/x"):
        target = ssrf.check(url)
        assert target.address == str(ipaddress.ip_address(target.host))


def test_a_host_with_any_private_address_is_refused(monkeypatch):
    monkeypatch.setattr(ssrf, "system_resolver", lambda host, port: ["93.184.215.14", "10.1.1.1"])
    with pytest.raises(ssrf.UnsafeURL, match=r"resolves to 10\.1\.1\.1"):
        ssrf.check("https://hooks.example.com/")


def test_dns_rebinding_is_caught_at_send_time(client, monkeypatch):
    answers = {"hooks.example.com": ["93.184.215.14"]}
    monkeypatch.setattr(ssrf, "system_resolver", lambda host, port: answers[host])
    response = submit(client, "https://hooks.example.com/events")
    assert response.status_code == 202
    job_id = response.get_json()["id"]
    run_job(job_id)
    answers["hooks.example.com"] = ["169.254.169.254"]  # the DNS answer changed since
    assert attempt(only_delivery(job_id).id) is None
    row = only_delivery(job_id)
    assert row.status == "failed"
    assert "hooks.example.com resolves to 169.254.169.254" in row.last_error


def test_allowlist_opens_exactly_the_listed_networks(hook_client, receiver):
    assert submit(hook_client, receiver.url()).status_code == 202
    assert submit(hook_client, receiver.url(host="localhost")).status_code == 202
    for url in ("http://127.0.0.2/", "http://169.254.169.254/", "http://[::ffff:127.0.0.1]/"):
        assert submit(hook_client, url).status_code == 422, url


def test_the_checked_address_is_the_one_connected_to(receiver):
    """A name this machine cannot resolve still reaches the checked address, with its Host."""
    target = ssrf.check(
        f"http://hooks.example.test:{receiver.port}/in",
        resolver=lambda host, port: ["127.0.0.1"],
        allow=ssrf.parse_networks("127.0.0.1/32"),
    )
    response = http.post(target, b"{}", {}, connect_timeout=1, read_timeout=1)
    assert response.status == 200
    assert receiver.requests[0].headers["host"] == f"hooks.example.test:{receiver.port}"
    assert receiver.requests[0].path == "/in"


def _tls_receiver(tmp_path, name: str) -> tuple[Receiver, list[str]]:
    """A TLS receiver with a certificate for ``name`` from a throwaway CA; records SNI."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def make(subject: str, issuer_key, issuer_name, key, ca: bool, san: str | None):
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer_name or x509.Name(
                [x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            # Key identifiers: Python 3.13 verifies strictly (VERIFY_X509_STRICT) and
            # rejects a chain without them.
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_key.public_key()), critical=False)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        if ca:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca = make("PixTools test CA", ca_key, None, ca_key, True, None)
    leaf = make(name, ca_key, ca.subject, leaf_key, False, name)
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (tmp_path / "leaf.key").write_bytes(leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    seen: list[str] = []
    context.sni_callback = lambda sock, server_name, ctx: seen.append(server_name)
    return Receiver(tls=context), seen


def test_https_verifies_the_url_host_while_connecting_to_the_checked_address(
    tmp_path, monkeypatch
):
    server, sni = _tls_receiver(tmp_path, "hooks.example.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    allow = ssrf.parse_networks("127.0.0.1/32")
    try:
        target = ssrf.check(f"https://hooks.example.test:{server.port}/tls",
                            resolver=lambda host, port: ["127.0.0.1"], allow=allow)
        assert http.post(target, b"{}", {}, connect_timeout=2, read_timeout=2).status == 200
        assert sni == ["hooks.example.test"]
        assert server.requests[0].headers["host"] == f"hooks.example.test:{server.port}"
        # A name the certificate does not cover is refused by certificate verification.
        wrong = ssrf.check(f"https://other.example.test:{server.port}/tls",
                           resolver=lambda host, port: ["127.0.0.1"], allow=allow)
        import urllib3

        with pytest.raises(urllib3.exceptions.SSLError):
            http.post(wrong, b"{}", {}, connect_timeout=2, read_timeout=2)
        assert len(server.requests) == 1
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("webhook_allow_private", "10.0.0.0/33", "PIXTOOLS_WEBHOOK_ALLOW_PRIVATE"),
        ("webhook_allow_private", "10.0.0.1/8", "PIXTOOLS_WEBHOOK_ALLOW_PRIVATE"),
        ("webhook_secret", "hunter2", "PIXTOOLS_WEBHOOK_SECRET: must start with whsec_"),
        ("webhook_secret", "whsec_c2hvcnQ=", "at least 24 random bytes"),
        ("public_url", "pixtools.example.com", "PIXTOOLS_PUBLIC_URL"),
    ],
)
def test_bad_webhook_settings_are_named(tmp_path, setting, value, words):
    with pytest.raises(ConfigError, match=words):
        load_settings({"data_dir": tmp_path, setting: value})


def test_allowlist_setting_parses():
    settings = load_settings({"webhook_allow_private": "127.0.0.1/32, fd00::/8"})
    assert [str(n) for n in ssrf.parse_networks(settings.webhook_allow_private)] == [
        "127.0.0.1/32", "fd00::/8"]
