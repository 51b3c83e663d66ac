"""A bare Flask app: the anchor the API is compared with, served by the same gunicorn
configuration (``gunicorn -c gunicorn.conf.py bench.bare_app:app``).

``GET /health`` returns a small JSON body; ``POST /upload`` reads a multipart file and
answers with its size, the least any upload endpoint must do.
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

app = Flask(__name__)


@app.get("/health")
def health() -> ResponseReturnValue:
    return jsonify(status="ok")


@app.post("/upload")
def upload() -> ResponseReturnValue:
    data = request.files["file"].read()
    return jsonify(bytes=len(data)), 202
