"""``GET /api/v1/jobs``: the caller's jobs, newest first, a page at a time, by status; never
another owner's, whatever the cursor."""

from __future__ import annotations

import base64
import datetime
import io
import json

import pytest
from sqlalchemy import update

from tests.support.browser import owners
from tests.support.images import make_image

RECIPE = json.dumps({"outputs": [{"steps": [{"op": "convert", "format": "png"}]}]})


def submit(client, headers, name="photo.jpg"):
    answer = client.post("/api/v1/jobs", headers=headers, content_type="multipart/form-data",
                         data={"file": (io.BytesIO(make_image((16, 16))), name),
                               "recipe": RECIPE})
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["id"]


def listed(client, headers, query=""):
    answer = client.get(f"/api/v1/jobs{query}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer


def all_pages(client, headers, query="limit=2"):
    ids, cursor, pages = [], None, 0
    while True:
        suffix = f"?{query}" + (f"&cursor={cursor}" if cursor else "")
        body = listed(client, headers, suffix).get_json()
        ids += [job["id"] for job in body["jobs"]]
        cursor, pages = body["next_cursor"], pages + 1
        if cursor is None:
            return ids, pages


def spread_in_time(job_ids):
    """Give the jobs distinct creation times, the first oldest (one second apart)."""
    from pixtools.db import db
    from pixtools.models import Job, utcnow

    start = utcnow() - datetime.timedelta(hours=1)
    for offset, job_id in enumerate(job_ids):
        db.session.execute(update(Job).where(Job.id == job_id)
                           .values(created_at=start + datetime.timedelta(seconds=offset)))
    db.session.commit()


def test_jobs_newest_first_a_page_at_a_time(app, client):
    made = [submit(client, {}) for _ in range(5)]
    spread_in_time(made)
    first = listed(client, {}, "?limit=2")
    body = first.get_json()
    assert [job["id"] for job in body["jobs"]] == made[::-1][:2]
    assert body["jobs"][0]["source"]["name"] == "photo.jpg"  # the full job, as GET shows it
    following = f"/api/v1/jobs?limit=2&cursor={body['next_cursor']}"
    assert first.headers["Link"] == f'<{following}>; rel="next"'
    ids, pages = all_pages(client, {})
    assert ids == made[::-1] and pages == 3
    assert listed(client, {}).get_json()["next_cursor"] is None  # default limit: all 5 fit


def test_equal_creation_times_are_neither_skipped_nor_repeated(app, client):
    from pixtools.db import db
    from pixtools.models import Job, utcnow

    made = [submit(client, {}) for _ in range(5)]
    db.session.execute(update(Job).values(created_at=utcnow()))  # one instant for all
    db.session.commit()
    ids, _ = all_pages(client, {}, "limit=2")
    assert sorted(ids) == sorted(made) and len(ids) == 5


def test_jobs_deleted_while_paging_do_not_derail_the_next_page(app, client):
    made = [submit(client, {}) for _ in range(4)]
    spread_in_time(made)
    body = listed(client, {}, "?limit=2").get_json()
    assert client.delete(f"/api/v1/jobs/{made[2]}").status_code == 204  # the page's last one
    rest = listed(client, {}, f"?limit=2&cursor={body['next_cursor']}").get_json()
    assert [job["id"] for job in rest["jobs"]] == [made[1], made[0]]


def test_status_filter(app, client):
    from pixtools.db import db
    from pixtools.models import Job

    made = [submit(client, {}) for _ in range(3)]
    spread_in_time(made)
    db.session.execute(update(Job).where(Job.id == made[1]).values(status="failed"))
    db.session.commit()
    assert [j["id"] for j in listed(client, {}, "?status=failed").get_json()["jobs"]] == [
        made[1]]
    both = listed(client, {}, "?status=queued,failed").get_json()["jobs"]
    assert [j["id"] for j in both] == made[::-1]
    assert listed(client, {}, "?status=succeeded").get_json() == {"jobs": [],
                                                                  "next_cursor": None}


@pytest.mark.parametrize(("query", "field"), [
    ("?limit=0", "limit"), ("?limit=101", "limit"), ("?limit=ten", "limit"),
    ("?status=done", "status"), ("?cursor=not-a-cursor", "cursor"),
    ("?cursor=" + base64.urlsafe_b64encode(b'["yesterday","x"]').decode(), "cursor"),
])
def test_bad_parameters_are_400_naming_the_parameter(client, query, field):
    answer = client.get(f"/api/v1/jobs{query}")
    assert answer.status_code == 400
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert body["field"] == field and body["error"] == "bad_request"
    assert body["type"] == "tag:pixtools,2026:problems/bad_request"
    assert body["detail"] == body["message"] and field in body["detail"]


def test_each_owner_lists_only_their_own_jobs_whatever_the_cursor(app):
    clients = owners(app)
    made = {name: [submit(client, headers) for _ in range(3)]
            for name, (client, headers) in clients.items()}
    everything = [job_id for ids in made.values() for job_id in ids]
    spread_in_time(everything)
    for name, (client, headers) in clients.items():
        ids, _ = all_pages(client, headers, "limit=2")
        assert ids == made[name][::-1], name
    # A cursor taken from one owner's page, handed to another: still only the other's jobs.
    alice, alice_headers = clients["browser 1"]
    cursor = listed(alice, alice_headers, "?limit=1").get_json()["next_cursor"]
    bob, bob_headers = clients["key 2"]
    seen = listed(bob, bob_headers, f"?limit=100&cursor={cursor}").get_json()["jobs"]
    assert {job["id"] for job in seen} <= set(made["key 2"])
