"""The README's library example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_library_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has a python example"
    script = tmp_path / "example.py"
    script.write_text(blocks[0], encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "CASECRAFT_SQLITE_SYNC": "NORMAL", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "refused:" in proc.stdout and "已结案" in proc.stdout
    assert (tmp_path / "embedded.db").exists()


def test_readme_quick_start_is_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(commands) == 2
    assert "casecraft demo" in commands[0] and "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -q '.[test]'" in ci and "python -m pytest" in ci


def _tour() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- tour -->", 1)[1].split("<!-- /tour -->", 1)[0]
    found = re.findall(r"```bash\n(.*?)```", block, flags=re.S)
    assert len(found) == 1, "the tour is one bash block between <!-- tour --> and <!-- /tour -->"
    return found[0]


def test_readme_tour_runs_top_to_bottom(tmp_path: Path) -> None:
    """The README's tour, extracted and run in order on a fresh database, as a user would from the repository."""
    import shutil

    for name in ("workflows.yaml", "organisation.yaml", "workflows.schema.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    (tmp_path / "tour.sh").write_text("set -euo pipefail\n" + _tour(), encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "CASECRAFT_SQLITE_SYNC": "NORMAL", "COLUMNS": "200"}
    proc = subprocess.run(["bash", "-x", "tour.sh"], cwd=tmp_path, capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # nothing but the commands' own messages on stderr: no log lines, no tracebacks
    assert "Traceback" not in proc.stderr and '"event": "alert"' not in proc.stderr + proc.stdout

    import casecraft

    engine = casecraft.Engine(f"sqlite:///{tmp_path / 'casecraft.db'}")
    try:
        states = {c: engine.get(c).state for c in (1, 2, 3, 4, 5)}
        assert states[1] == states[2] == states[5] == "closed"
        assert states[3] == "community_intake" and states[4] == "street_intake"
        assert [e.trigger for e in engine.get(1).timeline] == ["report", "resolve", "check", "close"]
        assert engine.get(1).timeline[1].attachments, "the photo of case 1 is kept"
        case5 = [e.trigger for e in engine.get(5).timeline]
        assert case5.count("feedback") == 3 and case5.count("relay") == 2 and case5[-1] == "close"
    finally:
        engine.close()
    assert "intact" in proc.stdout
    assert (tmp_path / "backup.jsonl").stat().st_size > 0 and (tmp_path / "workflow.mmd").exists()
    assert (tmp_path / "backup.jsonl").stat().st_mode & 0o077 == 0
