"""Download links signed for the address browsers use (PIXTOOLS_S3_PUBLIC_URL), while the app
itself talks to the store at its internal endpoint (PIXTOOLS_S3_ENDPOINT_URL).

moto's S3 server over real HTTP stands in for MinIO: the app reaches it as 127.0.0.1, the
"browser" as localhost, the way compose's app reaches http://minio:9000 and a LAN browser
http://<host>:9000. moto does not check signatures, so a link's signature is compared with the
one boto3 itself computes for the public host at the same second.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from botocore.config import Config

from pixtools.config import ConfigError, load_settings
from pixtools.storage import S3Storage


def public_of(endpoint: str) -> str:
    return endpoint.replace("127.0.0.1", "localhost")


def same_second_links(storage: S3Storage, reference: Any, key: str) -> tuple[str, str]:
    """The storage's link and boto3's for the same object, signed within the same second."""
    params = {"Bucket": storage.bucket, "Key": storage.prefix + key,
              "ResponseContentDisposition": 'attachment; filename="a.png"',
              "ResponseContentType": "image/png"}
    for _ in range(5):
        ours = storage.signed_url(key, expires_in=300, filename="a.png", content_type="image/png")
        theirs = reference.generate_presigned_url("get_object", Params=params, ExpiresIn=300)
        if query(ours)["X-Amz-Date"] == query(theirs)["X-Amz-Date"]:
            return ours, theirs
    raise AssertionError("could not sign twice within one second")


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def signer_for(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4"))


def test_links_are_signed_for_the_public_address(s3_server, s3_bucket):
    endpoint = s3_server["endpoint_url"]
    storage = S3Storage(s3_bucket, "images", endpoint_url=endpoint,
                        public_url=public_of(endpoint))
    storage.put("jobs/1/result.png", b"the result", "image/png")  # through the endpoint

    link, expected = same_second_links(storage, signer_for(public_of(endpoint)),
                                       "jobs/1/result.png")
    assert urlsplit(link).netloc == urlsplit(public_of(endpoint)).netloc
    assert query(link)["X-Amz-Signature"] == query(expected)["X-Amz-Signature"]
    # Signed for the internal host it would be another signature: the host is signed.
    internal, _ = same_second_links(S3Storage(s3_bucket, "images", endpoint_url=endpoint),
                                    signer_for(endpoint), "jobs/1/result.png")
    assert urlsplit(internal).netloc == urlsplit(endpoint).netloc
    assert query(internal)["X-Amz-Signature"] != query(link)["X-Amz-Signature"]

    response = requests.get(link, timeout=10)  # as the browser fetches it
    assert response.status_code == 200 and response.content == b"the result"
    assert response.headers["Content-Disposition"] == 'attachment; filename="a.png"'


def test_without_a_public_address_links_use_the_endpoint(s3_server, s3_bucket):
    storage = S3Storage(s3_bucket, endpoint_url=s3_server["endpoint_url"])
    link = storage.signed_url("x", expires_in=60, filename="x.png", content_type="image/png")
    assert urlsplit(link).netloc == urlsplit(s3_server["endpoint_url"]).netloc


def test_the_app_signs_with_its_setting_and_allows_that_origin_for_images(server_env):
    from pixtools import create_app
    from pixtools.http.security import storage_origin
    from pixtools.storage import get_storage
    from tests.support.environment import settings_from_env

    public = public_of(server_env["PIXTOOLS_S3_ENDPOINT_URL"])
    app = create_app({**settings_from_env(server_env), "s3_public_url": public + "/"})
    assert app.extensions["pixtools.settings"].s3_public_url == public
    with app.app_context():
        storage = get_storage(app)
        storage.put("probe", b"x", "text/plain")  # the app writes through the endpoint
        link = storage.signed_url("probe", expires_in=60, filename="p.txt",
                                  content_type="text/plain")
        assert link.startswith(public + "/")
        assert requests.get(link, timeout=10).content == b"x"
        # The page's Content-Security-Policy lets images come from where the links point.
        assert storage_origin(app) == public


@pytest.mark.parametrize("value", ["minio:9000", "ftp://example.com"])
def test_a_public_address_without_http_is_refused_by_name(value):
    with pytest.raises(ConfigError, match="PIXTOOLS_S3_PUBLIC_URL"):
        load_settings({"s3_public_url": value})
