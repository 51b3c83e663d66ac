"""Every page and partial through the Flask test client, with and without ``HX-Request``.

Jobs are processed in-process by the real pipeline (``run_steps``) where a test needs them
finished; the browser tests cover the same paths with real consumers.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import pytest
from PIL import Image

from pixtools import create_app, db
from pixtools.jobs.public import download_name
from pixtools.models import Job
from pixtools.storage import get_storage
from pixtools.tasks.pipeline import run_steps
from tests.support.browser import browser_client
from tests.support.images import make_image

HX = {"HX-Request": "true"}
OWNER_COOKIE = "pixtools_owner"


def upload(client: Any, files: list[tuple[str, bytes]], *, hx: bool = True,
           **fields: Any) -> Any:
    data: dict[str, Any] = {"format": fields.pop("formats", ["webp"]), **fields}
    data["file"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/jobs", data=data, content_type="multipart/form-data",
                       headers=HX if hx else {})


def card_ids(html: str) -> list[str]:
    return re.findall(r'<article id="job-([\w-]+)"', html)


def finish(job_id: str) -> Job:
    """Run the job's steps in this process, as a consumer would."""
    job = db.db.session.get(Job, job_id)
    for output in job.outputs:
        run_steps(output.steps[0].id)
    db.db.session.expire_all()
    return db.db.session.get(Job, job_id)


def test_index_is_a_whole_page_either_way_with_csp_and_no_inline_code(client):
    for headers in ({}, HX):
        response = client.get("/", headers=headers)
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "HX-Request" in response.headers["Vary"]
        assert html.startswith("<!doctype html>")
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "unsafe" not in policy
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
        assert " style=" not in html and "<style" not in html
        assert 'src="/static/vendor/htmx.min.js"' in html
    # The recipe form comes from the registry: every declared parameter has a control.
    for name in ("format", "convert.quality.webp", "convert.speed", "resize.width",
                 "resize.height", "resize.upscale", "auto_orient", "webhook_url"):
        assert f'name="{name}"' in html
    assert 'name="convert.quality.png"' not in html  # lossless: no slider
    assert 'type="file" name="file" multiple' in html
    assert 'aria-live="polite"' in html


def test_upload_answers_cards_and_a_clean_form(app, client):
    response = upload(client, [("photo.jpg", make_image()), ("notes.txt", b"hello")],
                      formats=["webp", "avif"], **{"resize.width": "320"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "pixtools:files-sent"
    assert "<html" not in html
    assert 'data-error="unsupported_media_type"' in html and "notes.txt" in html
    (job_id,) = card_ids(html)
    assert 'hx-trigger="every 1s"' in html and 'data-status="queued"' in html
    assert '<div id="recipe" class="recipe" hx-swap-oob="true">' in html
    assert 'value="320"' in html  # the person's choices stay in the form
    assert "1 image queued, 1 not accepted." in html
    job = db.db.session.get(Job, job_id)
    chosen = ("width", "height", "upscale", "format", "quality")
    steps = [[(s.op, {k: v for k, v in s.params.items() if k in chosen}) for s in o.steps]
             for o in job.outputs]
    assert steps == [
        [("resize", {"width": 320, "height": None, "upscale": False}),
         ("convert", {"format": "webp", "quality": 80})],
        [("resize", {"width": 320, "height": None, "upscale": False}),
         ("convert", {"format": "avif", "quality": 80})],
    ]


def test_upload_without_htmx_renders_the_page_with_the_new_card(client):
    response = upload(client, [("a.png", make_image((40, 30), fmt="PNG"))], hx=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.startswith("<!doctype html>") and len(card_ids(html)) == 1


def test_only_refused_files_answer_with_their_status(client):
    response = upload(client, [("notes.txt", b"hello")])
    assert response.status_code == 415
    assert 'data-error="unsupported_media_type"' in response.get_data(as_text=True)
    page = upload(client, [("notes.txt", b"hello")], hx=False)
    assert page.status_code == 415 and "<!doctype html>" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "files", "slot", "words"),
    [
        ({"resize.width": "99999"}, True, "f-resize-width-error", "less than or equal to 16384"),
        ({"resize.width": "wide"}, True, "f-resize-width-error", "Enter a whole number"),
        ({"step.resize": "on"}, True, "op", "Give width, height or both"),
        ({"formats": []}, True, "formats-error", "Choose at least one output format"),
        ({"convert.quality.webp": "0"}, True, "f-convert-quality-webp-error",
         "greater than or equal to 1"),
        ({"webhook_url": "http://10.0.0.7/hook"}, True, "f-webhook_url-error",
         "Webhook URL refused"),
        ({}, False, "file-error", "Choose at least one image"),
    ],
)
def test_bad_choices_come_back_next_to_their_field(client, fields, files, slot, words):
    chosen = [("photo.jpg", make_image((32, 32)))] if files else []
    response = upload(client, chosen, **fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#recipe"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert html.lstrip().startswith('<div id="recipe"')
    assert words in html
    if slot != "op":
        assert f'id="{slot}"' in html
        message = re.search(rf'id="{slot}">([^<]*)<', html)
        assert message and words in message.group(1)
    assert card_ids(client.get("/").get_data(as_text=True)) == []  # nothing was created
    page = upload(client, chosen, hx=False, **fields)
    assert page.status_code == 422
    assert "<!doctype html>" in page.get_data(as_text=True) and words in page.get_data(
        as_text=True)


def test_too_many_files_at_once(desktop_config):
    application = create_app({**desktop_config, "max_files_per_upload": 1})
    db.upgrade(application)
    with application.app_context():
        client = browser_client(application)
        response = upload(client, [("a.jpg", make_image((8, 8))), ("b.jpg", make_image((8, 8)))])
        assert response.status_code == 422
        assert "2 files chosen; send at most 1 at once." in response.get_data(as_text=True)
        db.db.session.remove()
        db.db.engine.dispose()


def test_card_is_a_partial_for_htmx_and_a_page_otherwise(client):
    (job_id,) = card_ids(upload(client, [("a.jpg", make_image((64, 48)))]).get_data(as_text=True))
    partial = client.get(f"/jobs/{job_id}", headers=HX)
    html = partial.get_data(as_text=True)
    assert html.startswith(f'<article id="job-{job_id}"') and "<html" not in html
    assert 'hx-get="/jobs/' in html and 'hx-trigger="every 1s"' in html
    assert "HX-Request" in partial.headers["Vary"]
    assert partial.headers["Cache-Control"] == "no-store"
    page = client.get(f"/jobs/{job_id}")
    assert page.get_data(as_text=True).startswith("<!doctype html>")
    assert f'id="job-{job_id}"' in page.get_data(as_text=True)
    # Boosted navigation and history restores get the page, not the fragment.
    for extra in ({"HX-Boosted": "true"}, {"HX-History-Restore-Request": "true"}):
        boosted = client.get(f"/jobs/{job_id}", headers={**HX, **extra})
        assert boosted.get_data(as_text=True).startswith("<!doctype html>")


def test_finished_card_stops_polling_and_offers_its_results(client):
    source = make_image((640, 480))
    (job_id,) = card_ids(upload(client, [("trip.jpg", source)], formats=["webp", "png"],
                                **{"resize.width": "320"}).get_data(as_text=True))
    job = finish(job_id)
    assert job.status == "succeeded"
    html = client.get(f"/jobs/{job_id}", headers=HX, query_string={"seen": "running"}).get_data(
        as_text=True)
    assert "hx-trigger" not in html and "hx-get" not in html
    assert 'data-status="succeeded"' in html
    assert f'href="/api/v1/jobs/{job_id}/bundle.zip"' in html
    assert '<div id="announcer" hx-swap-oob="innerHTML">trip.jpg: done.</div>' in html
    links = re.findall(r'class="btn btn--download" href="([^"]+)"', html)
    assert len(links) == 2
    # Outputs follow the order of the format choices: JPEG, PNG, WebP, AVIF.
    for link, fmt in zip(links, ("PNG", "WEBP"), strict=True):
        reply = client.get(link.replace("&amp;", "&"))
        assert reply.status_code == 200
        assert Image.open(io.BytesIO(reply.data)).format == fmt
    assert "320 × 240" in html
    webp = job.outputs[1]
    saving = round((len(source) - webp.bytes) / len(source) * 100)
    assert f"−{saving}%" in html
    quiet = client.get(f"/jobs/{job_id}", headers=HX, query_string={"seen": "succeeded"})
    assert "announcer" not in quiet.get_data(as_text=True)


def test_failed_job_shows_its_reason(client):
    jpeg = make_image((320, 240))
    (job_id,) = card_ids(upload(client, [("cut.jpg", jpeg[: len(jpeg) // 2])]).get_data(
        as_text=True))
    assert finish(job_id).status == "failed"
    html = client.get(f"/jobs/{job_id}", headers=HX).get_data(as_text=True)
    assert 'data-error="job_failed"' in html and "damaged" in html
    assert "hx-trigger" not in html and "btn--download" not in html


def test_every_shown_output_gets_a_compare_with_its_original(client):
    (job_id,) = card_ids(upload(client, [("noisy.png", make_image((96, 64), fmt="PNG"))],
                                formats=["png"]).get_data(as_text=True))
    finish(job_id)
    html = client.get(f"/jobs/{job_id}", headers=HX).get_data(as_text=True)
    assert "data-compare" in html and 'data-width="96" data-height="64"' in html
    before = re.search(r'class="compare-before" src="([^"]+)"', html).group(1)
    assert "noisy-original.png" in before
    reply = client.get(before.replace("&amp;", "&"))
    assert reply.status_code == 200 and reply.mimetype == "image/png"
    assert 'type="range"' in html and 'aria-label="Divider: original on the left' in html
    assert 'data-zoom="1"' in html


def test_delete_removes_the_job_and_its_files(app, client):
    (job_id,) = card_ids(upload(client, [("a.jpg", make_image((32, 32)))]).get_data(as_text=True))
    finish(job_id)
    response = client.post(f"/jobs/{job_id}/delete", headers=HX)
    assert response.status_code == 200
    assert response.get_data(as_text=True).strip() == (
        '<div id="announcer" hx-swap-oob="innerHTML">Deleted a.jpg.</div>')
    assert list(get_storage(app).keys(f"jobs/{job_id}/")) == []
    assert client.get(f"/jobs/{job_id}", headers=HX).status_code == 404
    (other,) = card_ids(upload(client, [("b.jpg", make_image((32, 32)))]).get_data(as_text=True))
    finish(other)
    plain = client.post(f"/jobs/{other}/delete")
    assert plain.status_code == 303 and plain.headers["Location"] == "/"


def test_other_browsers_cannot_see_or_delete_a_job(app, client):
    (job_id,) = card_ids(upload(client, [("a.jpg", make_image((32, 32)))]).get_data(as_text=True))
    stranger = browser_client(app)
    assert job_id not in stranger.get("/").get_data(as_text=True)
    missing = stranger.get(f"/jobs/{job_id}", headers=HX)
    assert missing.status_code == 404
    assert missing.get_data(as_text=True).startswith('<div class="error" role="alert"')
    page = stranger.get(f"/jobs/{job_id}")
    assert page.status_code == 404 and page.get_data(as_text=True).startswith("<!doctype html>")
    assert 'data-error="not_found"' in page.get_data(as_text=True)
    assert stranger.post(f"/jobs/{job_id}/delete", headers=HX).status_code == 404
    assert client.get(f"/jobs/{job_id}", headers=HX).status_code == 200


def test_history_is_newest_first_and_survives_a_new_app(app, client, desktop_config):
    first = card_ids(upload(client, [("one.jpg", make_image((16, 16)))]).get_data(as_text=True))
    second = card_ids(upload(client, [("two.jpg", make_image((16, 16)))]).get_data(as_text=True))
    assert card_ids(client.get("/").get_data(as_text=True)) == second + first
    cookie = client.get_cookie(OWNER_COOKIE)
    restarted = create_app(desktop_config)  # same data folder and key, as after a restart
    again = restarted.test_client()
    again.set_cookie(OWNER_COOKIE, cookie.value)
    with restarted.app_context():
        assert card_ids(again.get("/").get_data(as_text=True)) == second + first
        db.db.session.remove()
        db.db.engine.dispose()


def test_expired_jobs_render_as_expired_without_links(desktop_config, client):
    (job_id,) = card_ids(upload(client, [("old.jpg", make_image((32, 32)))]).get_data(
        as_text=True))
    finish(job_id)
    cookie = client.get_cookie(OWNER_COOKIE)
    later = create_app({**desktop_config, "clock_offset_seconds": 25 * 3600})
    visitor = later.test_client()
    visitor.set_cookie(OWNER_COOKIE, cookie.value)
    with later.app_context():
        for path, headers in ((f"/jobs/{job_id}", HX), (f"/jobs/{job_id}", {}), ("/", {})):
            html = visitor.get(path, headers=headers).get_data(as_text=True)
            card = html[html.index(f'<article id="job-{job_id}"'):]
            card = card[: card.index("</article>")]
            assert 'data-status="expired"' in card and ">Expired<" in card
            assert "expired 1 h ago" in card
            assert "<a " not in card and "<img" not in card and "hx-trigger" not in card
        db.db.session.remove()
        db.db.engine.dispose()
    # The same job, one app with the real clock, is still fresh.
    assert 'data-status="succeeded"' in client.get(f"/jobs/{job_id}", headers=HX).get_data(
        as_text=True)


def test_missing_pages_are_full_pages_and_errors_inline_for_htmx(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.get_data(as_text=True).startswith("<!doctype html>")
    inline = client.get("/no/such/page", headers=HX)
    assert inline.get_data(as_text=True).startswith('<div class="error" role="alert"')
    assert client.get("/jobs").status_code == 303


def test_batches_are_their_owners_and_only_failed_jobs_are_retried(app, client):
    html = upload(client, [("a.jpg", make_image((32, 32))), ("b.jpg", make_image((40, 30)))]
                  ).get_data(as_text=True)
    batch_id = re.search(r'data-batch="([^"]+)"', html).group(1)
    good, bad = card_ids(html)
    assert finish(good).status == "succeeded"
    header = client.get(f"/batches/{batch_id}", headers=HX)
    assert header.status_code == 200 and 'data-finished="1"' in header.get_data(as_text=True)
    # After a reload the batch's cards are still under its header.
    page = client.get("/").get_data(as_text=True)
    assert page.count(f'data-batch="{batch_id}"') == 1
    assert page.index(f'data-batch="{batch_id}"') < page.index(f'id="job-{bad}"')
    archive = client.get(f"/batches/{batch_id}/bundle.zip")
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    assert len(zipfile.ZipFile(io.BytesIO(archive.data)).namelist()) == 1
    # Only a failed job can be retried: this one is still queued.
    refused = client.post(f"/jobs/{bad}/retry", headers=HX)
    assert refused.status_code == 409

    stranger = browser_client(app)
    assert stranger.get(f"/batches/{batch_id}", headers=HX).status_code == 404
    assert stranger.get(f"/batches/{batch_id}/bundle.zip").status_code == 404
    assert stranger.post(f"/batches/{batch_id}/retry", headers=HX).status_code == 404
    assert stranger.post(f"/jobs/{good}/retry", headers=HX).status_code == 404


def test_retry_makes_a_failed_job_anew_in_its_batch_until_it_expires(app, client):
    jpeg = make_image((320, 240))
    (job_id,) = card_ids(upload(client, [("cut.jpg", jpeg[: len(jpeg) // 2])]).get_data(
        as_text=True))
    failed = finish(job_id)
    assert failed.status == "failed"
    reply = client.post(f"/jobs/{job_id}/retry", headers=HX)
    assert reply.status_code == 200 and reply.headers["HX-Trigger"] == "pixtools:batch-changed"
    html = reply.get_data(as_text=True)
    (new_id,) = card_ids(html)
    assert f'hx-swap-oob="outerHTML:#job-{job_id}"' in html
    made = db.db.session.get(Job, new_id)
    assert made.request_id == failed.request_id and made.source_name == "cut.jpg"
    assert [s.op for s in made.outputs[0].steps] == ["convert"]
    assert db.db.session.get(Job, job_id) is None  # the failed one made way

    again = finish(new_id)
    again.expires_at = again.created_at  # past its time: its upload is gone
    db.db.session.commit()
    assert client.post(f"/jobs/{new_id}/retry", headers=HX).status_code == 410


def test_a_batch_zip_leaves_out_expired_jobs_and_is_gone_when_all_are(app, client):
    html = upload(client, [("a.jpg", make_image((32, 32))), ("b.jpg", make_image((40, 30)))]
                  ).get_data(as_text=True)
    batch_id = re.search(r'data-batch="([^"]+)"', html).group(1)
    first, second = (finish(job_id) for job_id in card_ids(html))
    assert first.status == second.status == "succeeded"
    first.expires_at = first.created_at
    db.db.session.commit()
    archive = client.get(f"/batches/{batch_id}/bundle.zip")
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.data)).namelist()
    assert names == [download_name(second, second.outputs[0])]
    second.expires_at = second.created_at
    db.db.session.commit()
    gone = client.get(f"/batches/{batch_id}/bundle.zip")
    assert gone.status_code == 410 and "expired" in gone.get_data(as_text=True)
