"""README's local scale-out recipe, run as written: honcho with Procfile.dev, stopped by
Ctrl-C (SIGINT to honcho). Everything it started stops, and nothing lands in the checkout."""
from __future__ import annotations

import os
import re
import signal
import uuid
from pathlib import Path

import redis

from tests.jobs_support import create_job, wait_job
from tests.servers import ROOT, ManagedProcess, free_port, process_env, wait_for
from tests.transports import HttpTransport

SKIPPED = {".git", ".venv", "__pycache__", ".pytest_cache"}
RECIPE_MARK = "FS_RECIPE_RUN"


def recipe_command() -> str:
    """The honcho line of the README's recipe."""
    (line,) = re.findall(r"^.*honcho -f Procfile\.dev start.*$", (ROOT / "README.md").read_text(),
                         flags=re.MULTILINE)
    return line


def checkout_files() -> set[Path]:
    return {path for path in ROOT.rglob("*")
            if not SKIPPED & set(path.relative_to(ROOT).parts)}


def recipe_processes(mark: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and mark.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:  # gone meanwhile
            continue
    return found


def test_procfile_dev_runs_the_procfile_and_a_redis_server():
    dev = (ROOT / "Procfile.dev").read_text().splitlines()
    assert set((ROOT / "Procfile").read_text().splitlines()) <= set(dev)


def test_the_local_recipe_runs_and_ctrl_c_leaves_nothing_behind():
    before = checkout_files()
    port, redis_port, mark = free_port(), free_port(), uuid.uuid4().hex
    honcho = ManagedProcess(["bash", "-c", recipe_command()], process_env({
        "HOST": "127.0.0.1", "PORT": str(port), "REDIS_PORT": str(redis_port),
        RECIPE_MARK: mark}))
    honcho.start()
    try:
        http = HttpTransport(f"http://127.0.0.1:{port}")
        wait_for(lambda: _answers(http, "/readyz"), timeout=30, message="the recipe's web ready")
        record = wait_job(http, create_job(http, "PrimeChecker", {"number": 91}))
        assert record["result"]["factors"] == [7, 13]
        config = redis.Redis(port=redis_port, socket_timeout=5).config_get()
        assert config["bind"] == "127.0.0.1"
        assert Path(config["dir"]).resolve() != ROOT and config["save"] == ""
        honcho.signal(signal.SIGINT)
        honcho.process.wait(15)
        wait_for(lambda: not recipe_processes(f"{RECIPE_MARK}={mark}"), timeout=5,
                 message="every process the recipe started to stop")
    finally:
        for pid in recipe_processes(f"{RECIPE_MARK}={mark}"):
            os.kill(pid, signal.SIGKILL)
        honcho.stop(5)
    assert checkout_files() == before, honcho.output()[-3000:]


def _answers(http: HttpTransport, path: str) -> bool:
    try:
        return http.get(path).status == 200
    except OSError:
        return False
