"""The Dockerfile's two entrypoints, proven on the local stack (Docker is not available
here; the deploy workflow builds the image): the files the image copies are enough to run
the API command (ready and migrated) and the worker command (metrics on its port, drained
by SIGTERM), and the image runs as a non-root user with the locked dependencies."""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .conftest import ROOT, free_port

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def image_root(tmp: Path) -> Path:
    """What the image's COPY instructions put in /app (minus the virtualenv, which is this
    checkout's, synced from the same uv.lock)."""
    root = tmp / "app"
    root.mkdir()
    ignored = (ROOT / ".dockerignore").read_text().split()
    for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.M):
        for source in sources.split():
            assert source not in ignored, f"{source} is copied but .dockerignore drops it"
            src = ROOT / source
            if src.is_dir():
                shutil.copytree(src, root / source, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(src, root / source)
    return root


def commands() -> dict[str, list[str]]:
    cmd = json.loads(re.search(r"^CMD (\[.+\])$", DOCKERFILE, re.M).group(1))
    worker = re.search(r"^#\s+worker:\s+(.+)$", DOCKERFILE, re.M).group(1)
    return {"api": cmd, "worker": shlex.split(worker)}


def local(argv: list[str], **replace: str) -> list[str]:
    """The same command with this checkout's interpreter and a free port on loopback."""
    out = [replace.get(a, a) for a in argv]
    venv = Path(sys.executable).parent
    out[0] = str(venv / out[0]) if (venv / out[0]).exists() else sys.executable
    return out


def test_the_image_runs_as_non_root_with_the_locked_dependencies_only():
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.M)
    assert "uv sync --frozen --no-dev" in DOCKERFILE
    assert re.search(r"^STOPSIGNAL SIGTERM$", DOCKERFILE, re.M)
    assert commands()["api"][:3] == ["python", "-m", "edge_adapter.api"]


def test_the_api_and_worker_commands_run_from_the_image_files(authenticator_url, tmp_path):
    root = image_root(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LSP_", "PYTHONPATH"))} | {
        "LSP_DATABASE_URL": authenticator_url,
        "LSP_ENV": "development",  # the local stack's secrets are the development ones
    }
    newest = sorted(p.name for p in (root / "supabase" / "migrations").glob("*.sql"))[-1]

    api_port, metrics_port = free_port(), free_port()
    api_cmd = local(commands()["api"], **{"0.0.0.0": "127.0.0.1", "8000": str(api_port)})
    worker_cmd = local(commands()["worker"], **{"0.0.0.0": "127.0.0.1", "9464": str(metrics_port)})
    worker_cmd[0:1] = [sys.executable]
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("api", "worker")}
    api = subprocess.Popen(api_cmd, cwd=root, env=env, stdout=logs["api"], stderr=subprocess.STDOUT)
    worker = subprocess.Popen(
        worker_cmd, cwd=root, env=env, stdout=logs["worker"], stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        ready = metrics = None
        while time.monotonic() < deadline and not (ready and metrics):
            try:
                ready = ready or httpx.get(f"http://127.0.0.1:{api_port}/readyz", timeout=2)
                if ready.status_code != 200:
                    ready = None
                text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
                metrics = text if "lsp_queue_pending_jobs{" in text else None
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert ready is not None, (tmp_path / "api.log").read_text()
        assert ready.json()["expected_migration"] == newest.split("_")[0]
        assert metrics is not None, (tmp_path / "worker.log").read_text()
        assert "lsp_worker_last_heartbeat_timestamp_seconds" in metrics
        # SIGTERM drains the worker: it records itself stopped and exits cleanly.
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
        assert "worker stopped" in (tmp_path / "worker.log").read_text()
    finally:
        for proc in (api, worker):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)
