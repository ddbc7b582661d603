"""Helpers of the server tests: sandbox databases with tokens, uvicorn on a free loopback port, the CLI app.

A uvicorn server in a thread of the test process serves an app over an
engine the test also holds (so a FixedClock drives both); a real ``casecraft
serve`` subprocess is started where the tests need a process of its own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "workflows.yaml"
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=TZ)
GRID5 = "110106004005005"
COMM_E = "110106004005"
STREET = "110106004"
DISTRICT = "110106"
PEOPLE = ("wangjg", "lixia", "liuqiang", "zhoumin", "zhangwei", "chengang", "sunli", "wujing", "fengzr", "duyan",
          "qianhao", "zhenglei", "yangfq", "heping")


def sandbox(url: str, clock: Any) -> Any:
    """An initialised sandbox engine on ``url`` (never acting with ``$CASECRAFT_TOKEN``)."""
    from tests.conftest import sandbox as from_template

    return from_template(url, clock, token="")


def tokens(engine: Any, people: tuple[str, ...] = PEOPLE) -> dict[str, str]:
    """A token for each person (a sandbox lets ``actor=None`` issue them)."""
    from casecraft.admin.auth import issue_token

    return {p: issue_token(engine.ctx, p, actor=None)[0] for p in people}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # start-up synchronisation, not a timing assertion
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def cli_app() -> Any:
    """The Typer app, with `serve`, `login` and `logout` registered if main.py does not yet have them."""
    from casecraft.cli.login import login, logout
    from casecraft.cli.main import app
    from casecraft.cli.serve import serve

    names = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback is not None}
    for name, fn in (("serve", serve), ("login", login), ("logout", logout)):
        if name not in names:
            app.command(name)(fn)
    return app


SERVE_SHIM = ("import sys; sys.argv[0] = 'casecraft'; "
              "from tests.server_support import cli_app; cli_app()()")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASECRAFT_")}
    env.update({"CASECRAFT_SQLITE_SYNC": "NORMAL", "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


@contextmanager
def serve_process(db: str, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, Any]]:
    """A real ``casecraft serve`` process on a free loopback port; (base URL, Popen). Stopped on exit."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVE_SHIM, "--db", db, "serve", "--port", str(port),
                             "--log-level", "warning", *args], cwd=ROOT, env=clean_env(**(env or {})),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # start-up synchronisation: poll /health until it answers
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise RuntimeError(f"serve exited {proc.returncode}:\n{out}\n{err}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not start")
            time.sleep(0.05)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


__all__ = ["COMM_E", "DISTRICT", "GRID5", "PEOPLE", "ROOT", "STREET", "T0", "TZ", "WORKFLOW", "cli_app",
           "clean_env", "free_port", "sandbox", "serve_process", "tokens", "uvicorn_thread"]
