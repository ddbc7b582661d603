"""`casecraft case photo CASE SHA256 -o FILE`: an attachment comes back from the database, checked, 0600."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image
from typer.testing import CliRunner, Result

from casecraft.cli.main import app
from tests.conftest import WORKFLOW

GRID5 = "110106004005005"


def run(db: Path, *args: str, at: str = "2026-11-24T09:30") -> Result:
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{db}", "--workflow", str(WORKFLOW), *args],
                                env={"CASECRAFT_NOW": at, "CASECRAFT_TOKEN": ""})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def case_with_photo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, object]]:
    """A sandbox where case 1 was resolved with a photo; the attachment as the timeline lists it."""
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "s.db"
    assert run(db, "init", "--sandbox").exit_code == 0
    assert run(db, "case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101", "--desc",
               "小广告", "--actor", "wangjg").exit_code == 0
    Image.new("RGB", (32, 24), (200, 30, 30)).save(tmp_path / "after.png", "PNG")
    fired = run(db, "case", "fire", "1", "resolve", "--actor", "wangjg", "--photo", "after.png", "--json",
                at="2026-11-24T09:40")
    assert fired.exit_code == 0, fired.output
    attachment = json.loads(fired.stdout)["timeline"][-1]["attachments"][0]
    return db, attachment


def test_a_photo_comes_back_as_stored(case_with_photo: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    db, a = case_with_photo
    old = os.umask(0o022)
    try:
        result = run(db, "case", "photo", "1", str(a["sha256"]), "-o", "back.png", "--json")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    data = (tmp_path / "back.png").read_bytes()
    assert hashlib.sha256(data).hexdigest() == a["sha256"] and len(data) == a["size"]
    assert stat.S_IMODE(os.stat(tmp_path / "back.png").st_mode) == 0o600
    assert json.loads(result.stdout) == {"case": 1, **a, "file": "back.png"}
    with Image.open(tmp_path / "back.png") as img:
        assert img.size == (32, 24)
    # the 12 digits `case show` prints are enough
    short = run(db, "case", "photo", "1", str(a["sha256"])[:12], "-o", "short.png")
    assert short.exit_code == 0 and "short.png" in short.stdout
    assert (tmp_path / "short.png").read_bytes() == data


def test_an_existing_file_is_kept_without_force(case_with_photo: tuple[Path, dict[str, object]],
                                                tmp_path: Path) -> None:
    db, a = case_with_photo
    (tmp_path / "mine.png").write_bytes(b"my own file")
    refused = run(db, "case", "photo", "1", str(a["sha256"]), "-o", "mine.png")
    assert refused.exit_code == 2 and "already exists" in refused.stderr and "--force" in refused.stderr
    assert (tmp_path / "mine.png").read_bytes() == b"my own file"
    forced = run(db, "case", "photo", "1", str(a["sha256"]), "-o", "mine.png", "--force")
    assert forced.exit_code == 0
    assert hashlib.sha256((tmp_path / "mine.png").read_bytes()).hexdigest() == a["sha256"]
    assert stat.S_IMODE(os.stat(tmp_path / "mine.png").st_mode) == 0o600


def test_wrong_case_hash_or_database_are_clear_errors(case_with_photo: tuple[Path, dict[str, object]],
                                                      tmp_path: Path) -> None:
    db, a = case_with_photo
    sha = str(a["sha256"])
    assert run(db, "case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101", "--desc", "又一处",
               "--actor", "wangjg").exit_code == 0
    for args, code, words in [
        (("2", sha), 1, "case 2 has no attachment"),           # another case's photo is not this case's
        (("1", "0" * 64), 1, "has no attachment"),
        (("9", sha), 1, "no case 9"),
        (("1", "xyz"), 2, "not an attachment id"),
        (("1", sha[:6]), 2, "not an attachment id"),
    ]:
        result = run(db, "case", "photo", *args, "-o", "x.png")
        assert result.exit_code == code and words in result.stderr, (args, result.output)
        assert not (tmp_path / "x.png").exists()
    assert run(db, "case", "photo", "1", sha, "-o", "s.db").exit_code == 2  # never the live database
    assert run(tmp_path / "missing.db", "case", "photo", "1", sha, "-o", "x.png").exit_code == 2
    assert not (tmp_path / "missing.db").exists()
    # bytes changed in the database behind the engine's back are refused, not handed out
    raw = sa.create_engine(f"sqlite:///{db}")
    with raw.begin() as conn:
        conn.execute(sa.text("UPDATE files SET data = :d WHERE sha256 = :s"), {"d": b"not the photo", "s": sha})
    raw.dispose()
    tampered = run(db, "case", "photo", "1", sha, "-o", "x.png")
    assert tampered.exit_code != 0 and "audit verify" in tampered.stderr
    assert not (tmp_path / "x.png").exists()
