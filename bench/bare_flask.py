"""The floor for bench/bench_http.py: the same algorithm call in the thinnest Flask app.

No validation, envelopes, request ids, metrics or logging: only what any Flask app
must do to answer `POST /invoke {"number": n}` with PrimeChecker's result. Our
service's throughput is reported as a fraction of this one's, both served by the
same gunicorn command and settings (the Procfile's `web:` line with this module in
place of `wsgi:app`):

    gunicorn bench.bare_flask:app -c gunicorn.conf.py
"""
from __future__ import annotations

import time

from flask import Flask, Response, jsonify, request

from app.algorithms.registry import ALGORITHMS

app = Flask(__name__)
prime_checker = ALGORITHMS["PrimeChecker"].run  # ours calls the same function


@app.post("/invoke")
def invoke() -> Response:
    return jsonify(prime_checker({"number": request.get_json()["number"]}))


@app.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "healthy", "timestamp": time.time()})
