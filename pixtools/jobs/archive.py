"""Several jobs' finished outputs as one ZIP (a batch's "download all"), streamed straight
from storage: stored, not compressed again, so its size is known before the first byte,
and one result is open at a time whatever the batch's size."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing

from zipstream import ZIP_STORED, ZipStream

from .. import clock
from ..errors import Conflict, JobExpired
from ..models import Job
from ..models.state import SUCCEEDED
from ..storage import Storage
from .public import download_name

CHUNK_BYTES = 64 * 1024


def _chunks(storage: Storage, key: str) -> Iterator[bytes]:
    with closing(storage.open(key)) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            yield chunk


def archive(jobs: Sequence[Job], storage: Storage) -> ZipStream:
    """Every finished output of ``jobs``, named as its own download is (two uploads of
    the same name are told apart by their job's id). Jobs past their expiry time are left
    out, as their own downloads are refused."""
    live = [job for job in jobs if not clock.is_expired(job)]
    if jobs and not live:
        raise JobExpired("Every image of this batch has expired: its results are deleted. "
                         "Submit the images again if you still need them.")
    finished = [(job, output) for job in live for output in job.outputs
                if output.status == SUCCEEDED and output.result_key]
    if not finished:
        raise Conflict("No image of this batch has finished yet: wait, then try again.")
    stream = ZipStream(compress_type=ZIP_STORED, sized=True)
    seen: set[str] = set()
    for job, output in finished:
        assert output.result_key is not None and output.bytes is not None
        name = download_name(job, output)
        if name in seen:
            name = f"{job.id[:8]}-{name}"
        seen.add(name)
        stream.add(_chunks(storage, output.result_key), name, size=output.bytes)
    return stream
