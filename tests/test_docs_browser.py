"""/docs and /redoc really render, in headless Chromium, with no network but loopback.

.ci/run installs Debian's chromium; on a machine without it the test is skipped,
except under CI, where a missing browser is a failure.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The flags the workplace's probe uses: no background traffic to hosts we cannot reach.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def rendered_dom(url: str) -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run should have installed it")
        pytest.skip("chromium is not installed")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=8000",
             "--dump-dom", url],
            capture_output=True, text=True, timeout=90,
        )
    return done.stdout


def test_swagger_ui_renders_every_operation(service):
    dom = rendered_dom(service.url("/docs"))
    for path in ("/invoke", "/healthz", "/readyz", "/metrics"):
        assert f'data-path="{path}"' in dom, path
    assert "Unable to render this definition" not in dom


def test_redoc_renders_the_document(service):
    dom = rendered_dom(service.url("/redoc"))
    assert "FunctionalScaffold" in dom
    assert "/invoke/{algorithm}" in dom
    assert "Something went wrong" not in dom
