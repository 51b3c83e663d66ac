"""Entry point for ``gunicorn wsgi:app`` and ``flask --app wsgi …``.

``huey_consumer wsgi.standard_queue`` / ``wsgi.ml_queue`` / ``wsgi.webhooks_queue`` run the
plain Huey consumer.
"""

from pixtools import create_app
from pixtools.queues import get_queues

app = create_app()
standard_queue = get_queues(app).standard
ml_queue = get_queues(app).ml
webhooks_queue = get_queues(app).webhooks
