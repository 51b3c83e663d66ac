"""All finished outputs of a job as one ZIP, streamed straight from storage.

Files are stored, not compressed again (images are compressed already), so the size of
the archive is known before the first byte: downloads show real progress. Memory stays
flat whatever the job's size: each result is read from storage in small chunks while the
archive is being sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing

from flask import Response, current_app
from zipstream import ZIP_STORED, ZipStream

from ..errors import Conflict
from ..jobs.public import download_name, safe_stem
from ..models import Job
from ..models.state import SUCCEEDED
from ..storage import Storage, get_storage

CHUNK_BYTES = 64 * 1024


def _chunks(storage: Storage, key: str) -> Iterator[bytes]:
    # Opened only when the archive reaches this file, so one object is open at a time.
    with closing(storage.open(key)) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            yield chunk


def archive(job: Job, storage: Storage) -> ZipStream:
    """The job's finished outputs (and ``metadata.json`` when a metadata step ran)."""
    finished = [o for o in job.outputs if o.status == SUCCEEDED and o.result_key]
    if not finished:
        raise Conflict(
            "This job has no finished outputs yet: wait until it succeeds, then try again."
        )
    stream = ZipStream(compress_type=ZIP_STORED, sized=True)
    for output in finished:
        assert output.result_key is not None and output.bytes is not None
        stream.add(_chunks(storage, output.result_key), download_name(job, output),
                   size=output.bytes)
    reports = [o.details["metadata"] for o in finished if o.details and "metadata" in o.details]
    if reports:
        # Every metadata report describes the same upload: one file is enough.
        stream.add(json.dumps(reports[0], indent=2, ensure_ascii=False).encode(),
                   "metadata.json")
    return stream


def zip_name(job: Job) -> str:
    return f"{safe_stem(job, 'images')}.zip"


def response(job: Job) -> Response:
    stream = archive(job, get_storage(current_app))
    reply = Response(iter(stream), mimetype="application/zip", direct_passthrough=True)
    reply.headers["Content-Length"] = str(len(stream))
    reply.headers["Content-Disposition"] = f'attachment; filename="{zip_name(job)}"'
    reply.headers["X-Content-Type-Options"] = "nosniff"
    return reply
