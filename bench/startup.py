"""Start-up: fresh ``casecraft`` processes against the imports they cannot do without, in the same run.

- ``casecraft --help`` against ``python -c "import typer"``;
- one ``casecraft case fire`` on SQLite against ``python -c "import sqlalchemy"``;
- one client command over the server (``casecraft case show 1`` with ``--server``, a
  ``casecraft serve`` started here) against ``python -c "import httpx"``.

Each is a fresh process timed from spawn to exit; the two sides of a row alternate, and the
figure is the best of the runs (noise on a shared machine only ever adds time). The package is
byte-compiled first, as an installed wheel is (this machine sets PYTHONDONTWRITEBYTECODE, which
would otherwise make every process compile casecraft's sources again).
"""

from __future__ import annotations

import compileall
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import ROOT, WORKFLOW


def _wall(cmd: list[str], env: dict[str, str] | None = None, check: bool = True) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def casecraft_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("casecraft")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "casecraft"]


def precompile() -> None:
    compileall.compile_dir(str(ROOT / "casecraft"), quiet=1)


def _pair(runs: int, mine: Callable[[int], float], peer: list[str]) -> tuple[float, float]:
    """Best of ``runs`` for casecraft and for the peer command, alternating."""
    a, b = [], []
    for i in range(runs):
        a.append(mine(i))
        b.append(_wall([sys.executable, *peer]))
    return min(a), min(b)


def help_pair(runs: int) -> tuple[float, float, float]:
    """``casecraft --help``, ``import typer``, and a process importing only the command line's modules."""
    cc = casecraft_cmd()
    mine, peer = _pair(runs, lambda i: _wall([*cc, "--help"]), ["-c", "import typer"])
    imports = min(_wall([sys.executable, "-c", "import casecraft.cli.main"]) for _ in range(runs))
    return mine, peer, imports


def _env(url: str) -> dict[str, str]:
    env = {**os.environ, "CASECRAFT_DB": url, "CASECRAFT_WORKFLOW": str(WORKFLOW), "CASECRAFT_NOW": "2026-11-24T10:00"}
    for k in ("CASECRAFT_SERVER", "CASECRAFT_TOKEN"):
        env.pop(k, None)
    return env


def _prepare(url: str) -> dict[str, str]:
    env = _env(url)
    cc = casecraft_cmd()
    subprocess.run([*cc, "init", "--sandbox"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run([*cc, "case", "report", "--source", "patrol", "--grid", "110106004005005", "--category", "0101",
                    "--desc", "楼门张贴小广告", "--actor", "wangjg"], check=True, env=env, stdout=subprocess.DEVNULL)
    return env


# What `casecraft case fire` cannot run without, imported and nothing done: SQLAlchemy with its SQLite
# dialect, Typer (whose parameter conversion builds pydantic TypeAdapters), Rich for the output, casecraft.
FIRE_IMPORTS = ("import sqlalchemy.dialects.sqlite, typer._adapters, rich.console, casecraft.cli.main, "
                "casecraft.cli.case, casecraft.engine, casecraft.store.repo, casecraft.workflows.machine")


def fire_pair(url: str, runs: int) -> tuple[float, float, float]:
    """``casecraft case fire`` on an initialised sandbox database (resolve and rework in turn): its best time,
    ``import sqlalchemy``'s, and the best time of a process that only imports what the command needs."""
    env = _prepare(url)
    cc = casecraft_cmd()

    def fire(i: int) -> float:
        step = ["resolve", "--note", "已清除"] if i % 2 == 0 else ["rework", "--note", "未清除干净"]
        return _wall([*cc, "case", "fire", "1", step[0], "--actor", "wangjg", *step[1:]], env)

    mine, sqla = _pair(runs, fire, ["-c", "import sqlalchemy"])
    imports = min(_wall([sys.executable, "-c", FIRE_IMPORTS], env) for _ in range(runs))
    return mine, sqla, imports


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# What a client command cannot run without: httpx, Typer with its pydantic parameter conversion, Rich, casecraft.
CLIENT_IMPORTS = ("import httpx, typer._adapters, rich.console, casecraft.cli.main, casecraft.cli.case, "
                  "casecraft.client.engine, casecraft.alerts.views")


def client_pair(url: str, runs: int) -> tuple[float, float, float]:
    """``casecraft --server URL case show 1`` against a ``casecraft serve`` on a sandbox database."""
    env = _prepare(url)
    token = subprocess.run(
        [sys.executable, "-c", "from casecraft import Engine\nfrom casecraft.admin.auth import issue_token\n"
         "e = Engine(token='')\nprint(issue_token(e.ctx, 'wangjg', actor=None)[0])\ne.close()"],
        check=True, env=env, capture_output=True, text=True).stdout.strip()
    port = _free_port()
    server = subprocess.Popen([*casecraft_cmd(), "serve", "--port", str(port), "--log-level", "warning"],
                              env={k: v for k, v in env.items() if k != "CASECRAFT_NOW"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:  # start-up synchronisation of the server, not part of any figure
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("casecraft serve did not start") from None
                time.sleep(0.2)
        cenv = {**env, "CASECRAFT_SERVER": f"http://127.0.0.1:{port}", "CASECRAFT_TOKEN": token}
        cenv.pop("CASECRAFT_NOW")
        cenv.pop("CASECRAFT_DB")
        cc = casecraft_cmd()
        subprocess.run([*cc, "case", "show", "1"], check=True, env=cenv, stdout=subprocess.DEVNULL)
        mine, peer = _pair(runs, lambda i: _wall([*cc, "case", "show", "1"], cenv), ["-c", "import httpx"])
        imports = min(_wall([sys.executable, "-c", CLIENT_IMPORTS]) for _ in range(runs))
        return mine, peer, imports
    finally:
        server.terminate()
        server.wait(timeout=30)
