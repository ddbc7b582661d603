"""Start-up: fresh ``casecraft`` processes against the imports they cannot do without, in the same run.

- ``casecraft --help`` against ``python -c "import typer"``;
- one ``casecraft case fire`` on SQLite against ``python -c "import sqlalchemy"``;
- one client command over the server (``casecraft case show 1`` with ``--server``, a
  ``casecraft serve`` started here) against ``python -c "import httpx"``.

Each is a fresh process timed from spawn to exit; the two sides of a row alternate, and the
figure is the best of the runs (noise on a shared machine only ever adds time). Beside the wall
times, the best CPU time (user + system) of each side: on a loaded machine a process waits for a
core for a varying share of its wall time, while the work it does varies much less. The package is
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
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT, WORKFLOW


def _times(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time from spawn to exit, and the CPU time (user + system) the process used."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return wall, usage.ru_utime + usage.ru_stime


@dataclass
class Pair:
    """A row's best times (seconds): casecraft's command, its peer, and what the command imports."""

    mine: float
    peer: float
    mine_cpu: float
    peer_cpu: float
    imports: float = 0.0  # a process importing what the command imports, nothing done
    floor: float = 0.0  # a process importing only the libraries among them (0: not measured)


def casecraft_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("casecraft")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "casecraft"]


def precompile() -> None:
    compileall.compile_dir(str(ROOT / "casecraft"), quiet=1)


def _pair(runs: int, mine: Callable[[int], tuple[float, float]], peer: list[str],
          imports: list[str] | None = None, floor: list[str] | None = None,
          env: dict[str, str] | None = None) -> Pair:
    """Best of ``runs`` for casecraft and for the peer command (wall and CPU time apart), and for the processes that
    only import (``python -c IMPORTS``), all alternating in each round so that a busier minute hurts them alike."""
    a, b, c, d = [], [], [], []
    for i in range(runs):
        a.append(mine(i))
        b.append(_times([sys.executable, *peer]))
        if imports:
            c.append(_times([sys.executable, "-c", *imports], env)[0])
        if floor:
            d.append(_times([sys.executable, "-c", *floor], env)[0])
    return Pair(min(w for w, _ in a), min(w for w, _ in b), min(x for _, x in a), min(x for _, x in b),
                min(c, default=0.0), min(d, default=0.0))


def help_pair(runs: int) -> Pair:
    """``casecraft --help``, ``import typer``, and a process importing only the command line's modules."""
    cc = casecraft_cmd()
    return _pair(runs, lambda i: _times([*cc, "--help"]), ["-c", "import typer"], ["import casecraft.cli.main"])


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


# The libraries `casecraft case fire` imports, imported and nothing done: SQLAlchemy with its SQLite dialect,
# Typer and transitions. Not pydantic: the command reads the published version as casecraft.workflows.shape's
# plain records (pydantic validates a file only when it is loaded or published). Nor Typer's pydantic adapters:
# Typer 0.29 builds one lazily for each parameter of the command it runs (and of the root callback), whose first
# import pulls in pydantic and its plugin loader (importlib.metadata); casecraft.cli.coerce converts plain values
# without them (python -X importtime, sys.modules of the command's process).
FIRE_FLOOR = "import sqlalchemy.dialects.sqlite, typer, transitions"
# ... and with casecraft's modules the command imports (its one line of output on a pipe needs no Rich).
FIRE_IMPORTS = (FIRE_FLOOR + ", casecraft.cli.main, casecraft.cli.case, casecraft.cli.coerce, casecraft.engine, "
                "casecraft.store.repo, casecraft.workflows.machine, casecraft.workflows.shape, casecraft.cli.render")


def fire_pair(url: str, runs: int) -> Pair:
    """``casecraft case fire`` on an initialised sandbox database (resolve and rework in turn): its best time,
    ``import sqlalchemy``'s, the best time of a process that only imports what the command needs, and of one
    that imports only the libraries among them."""
    env = _prepare(url)
    cc = casecraft_cmd()

    def fire(i: int) -> tuple[float, float]:
        step = ["resolve", "--note", "已清除"] if i % 2 == 0 else ["rework", "--note", "未清除干净"]
        return _times([*cc, "case", "fire", "1", step[0], "--actor", "wangjg", *step[1:]], env)

    return _pair(runs, fire, ["-c", "import sqlalchemy"], [FIRE_IMPORTS], [FIRE_FLOOR], env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The libraries a client command imports: httpx (which imports Rich itself), httpcore and h11 (httpx imports
# them when a client is made), Typer (without its pydantic adapters, as above: no pydantic at all).
CLIENT_FLOOR = "import httpx, httpcore, h11, typer"
# ... and with casecraft's modules the command imports.
CLIENT_IMPORTS = (CLIENT_FLOOR + ", casecraft.cli.main, casecraft.cli.case, casecraft.cli.coerce, "
                  "casecraft.client.engine, casecraft.alerts.views, casecraft.cli.render")


def client_pair(url: str, runs: int) -> Pair:
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
        return _pair(runs, lambda i: _times([*cc, "case", "show", "1"], cenv), ["-c", "import httpx"],
                     [CLIENT_IMPORTS], [CLIENT_FLOOR])
    finally:
        server.terminate()
        server.wait(timeout=30)
