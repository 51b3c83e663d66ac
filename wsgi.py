"""Entry point for ``gunicorn wsgi:app`` and ``flask --app wsgi …``.

``huey_consumer wsgi.standard_queue`` / ``wsgi.ml_queue`` / ``wsgi.webhooks_queue`` run the
plain Huey consumer.
"""

from pixtools import create_app
from pixtools.app import settle_heap
from pixtools.queues import get_queues

app = create_app()
# Loaded once per gunicorn worker (in the master with --preload): keep start-up's objects
# out of the collector's way for the process's life.
settle_heap()
standard_queue = get_queues(app).standard
ml_queue = get_queues(app).ml
webhooks_queue = get_queues(app).webhooks
