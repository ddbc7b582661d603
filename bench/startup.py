"""Start-up: ``casecraft --help`` wall time, and one ``casecraft case fire`` against ``import sqlalchemy``.

Each is a fresh process, timed from spawn to exit; the figure is the best of
several runs (noise on a shared machine only ever adds time).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import WORKFLOW


def _wall(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def casecraft_bin() -> str:
    exe = Path(sys.executable).with_name("casecraft")
    return str(exe) if exe.exists() else "casecraft"


def help_time(runs: int) -> float:
    return min(_wall([casecraft_bin(), "--help"]) for _ in range(runs))


def import_sqlalchemy_time(runs: int) -> float:
    return min(_wall([sys.executable, "-c", "import sqlalchemy"]) for _ in range(runs))


def fire_time(url: str, runs: int) -> float:
    """Best wall time of ``casecraft case fire`` on an initialised database (resolve and rework in turn)."""
    env = {**os.environ, "CASECRAFT_DB": url, "CASECRAFT_WORKFLOW": str(WORKFLOW), "CASECRAFT_NOW": "2026-11-24T10:00"}
    cc = casecraft_bin()
    subprocess.run([cc, "init"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run([cc, "case", "report", "--source", "patrol", "--grid", "110106004005005", "--category", "0101",
                    "--desc", "楼门张贴小广告", "--actor", "wangjg"], check=True, env=env, stdout=subprocess.DEVNULL)
    times = []
    for i in range(runs):
        step = ["resolve", "--note", "已清除"] if i % 2 == 0 else ["rework", "--note", "未清除干净"]
        times.append(_wall([cc, "case", "fire", "1", step[0], "--actor", "wangjg", *step[1:]], env))
    return min(times)
