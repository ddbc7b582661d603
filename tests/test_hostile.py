"""Hostile input through the real entry point: every bad input is refused cleanly and changes nothing.

The corpus lives in ``tests/data/bad/``:

* ``cli.jsonl``: command lines an operator (or an attacker at the operator's
  keyboard) could type — injection strings, control characters, over-long
  texts, mixed-width Chinese and look-alikes, invalid dates, unknown ids — each
  with its documented exit code (1 refused by the rules, 2 bad input) and a
  phrase the message must contain. ``{c*N}`` in an argument stands for the
  character ``c`` repeated N times;
* ``yaml/``: broken and malicious workflow files (alias bombs, code-execution
  tags, wrong types, unknown keys, bad encodings) with ``yaml.json`` naming
  the phrase each message must contain; each is given to ``casecraft init`` on
  a working database, which must refuse it with every problem as FILE:LINE:COL;
* ``backup/``: files that are not complete casecraft backups, for
  ``import-backup`` into an empty database;
* ``import/``: hotline work-order files (GBK and UTF-16 encodings, a BOM,
  missing columns, duplicate tickets, bad channels, times, grids, control
  characters, broken JSON) for ``casecraft hotline import``, with ``import.json``.

Each case runs on a fresh copy of one prepared SQLite database (initialised,
one patrol case at grid 5) and must leave ``Engine.snapshot()`` unchanged,
print no traceback and exit with the expected code.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from casecraft import Engine
from casecraft.cli.main import app
from tests.conftest import WORKFLOW

BAD = Path(__file__).resolve().parent / "data" / "bad"
GRID5 = "110106004005005"
AT = "2026-11-24T10:00"
runner = CliRunner()


def _expand(arg: str) -> str:
    return re.sub(r"\{(.)\*(\d+)\}", lambda m: m[1] * int(m[2]), arg)


def load_cli_corpus() -> list[dict[str, Any]]:
    lines = (BAD / "cli.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


CLI_CORPUS = load_cli_corpus()
YAML_EXPECT: dict[str, str] = json.loads((BAD / "yaml.json").read_text(encoding="utf-8"))
BACKUP_EXPECT: dict[str, str] = json.loads((BAD / "backup.json").read_text(encoding="utf-8"))
IMPORT_EXPECT: dict[str, str] = json.loads((BAD / "import.json").read_text(encoding="utf-8"))


@dataclass
class Prepared:
    """A copy of the prepared database and how to run the CLI on it."""

    path: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def run(self, args: list[str], at: str | None = AT) -> Result:
        head = ["--db", self.url, "--workflow", str(WORKFLOW)]
        if at is not None:
            head += ["--at", at]
        return runner.invoke(app, [*head, *args])

    def snapshot(self) -> dict[str, Any]:
        with Engine(self.url, WORKFLOW) as eng:
            return eng.snapshot()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("hostile") / "template.db"
    db = Prepared(where)
    for args in (["init", "--sandbox"], ["case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101",
                            "--desc", "巡查发现小广告", "--actor", "wangjg"]):
        result = db.run(args, at="2026-11-24T09:15")
        assert result.exit_code == 0, result.output
    return where


@pytest.fixture
def db(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Prepared]:
    monkeypatch.setenv("CASECRAFT_SQLITE_SYNC", "NORMAL")
    for var in ("CASECRAFT_NOW", "CASECRAFT_DB", "CASECRAFT_WORKFLOW", "CASECRAFT_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "casecraft.db"
    shutil.copyfile(template, copy)
    yield Prepared(copy)


def refused(result: Result, code: int, phrase: str) -> None:
    """The documented exit code, the phrase in the message, and never a crash."""
    detail = f"exit {result.exit_code}\nstdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-2000:]}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"crashed with {result.exception!r}\n{detail}")
    assert result.exit_code == code, detail
    assert "Traceback" not in result.output, detail
    assert phrase in result.output, detail


# --------------------------------------------------------------------------- command lines

@pytest.mark.parametrize("case", CLI_CORPUS, ids=[c["name"] for c in CLI_CORPUS])
def test_bad_command_line(db: Prepared, case: dict[str, Any]) -> None:
    before = db.snapshot()
    result = db.run([_expand(a) for a in case["args"]], at=case.get("at", AT))
    refused(result, case["exit"], case["expect"])
    assert db.snapshot() == before


# --------------------------------------------------------------------------- workflow files

@pytest.mark.parametrize("name", sorted(YAML_EXPECT))
def test_bad_workflow_file(db: Prepared, name: str) -> None:
    path = BAD / "yaml" / name
    before = db.snapshot()
    # publishing is where a workflow file is read into a database (`init` reads it only into an empty one)
    result = runner.invoke(app, ["--db", db.url, "--workflow", str(path), "--at", AT, "workflow", "publish"])
    refused(result, 2, YAML_EXPECT[name])
    assert re.search(r":\d+:\d+: error: ", result.stderr), result.stderr  # FILE:LINE:COL, never a traceback
    assert "problem(s)" in result.stderr
    assert db.snapshot() == before


def test_a_huge_workflow_file(db: Prepared, tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text("workflow:\n  id: huge\n" + "# padding\n" * 300_000, encoding="utf-8")
    before = db.snapshot()
    result = runner.invoke(app, ["--db", db.url, "--workflow", str(huge), "workflow", "publish"])
    refused(result, 2, "a workflow file may be at most")
    assert db.snapshot() == before


def test_an_absurd_time_limit_is_refused_when_loaded(db: Prepared, tmp_path: Path) -> None:
    text = (BAD.parent / "workflows" / "minimal.yaml").read_text(encoding="utf-8")
    absurd = tmp_path / "absurd.yaml"
    absurd.write_text(text.replace("limit: 4 working hours}", "limit: 99999999999999999999999 working days}")
                      .replace("organisation: minimal-org.yaml",
                               f"organisation: {BAD.parent / 'workflows' / 'minimal-org.yaml'}"), encoding="utf-8")
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'absurd.db'}", "--workflow", str(absurd),
                                 "init", "--sandbox"])
    refused(result, 2, "limit")


def test_the_yaml_corpus_and_its_expectations_agree() -> None:
    on_disk = {p.name for p in (BAD / "yaml").iterdir()}
    assert on_disk == set(YAML_EXPECT)
    assert {p.name for p in (BAD / "backup").iterdir()} == set(BACKUP_EXPECT)
    assert {p.name for p in (BAD / "import").iterdir()} == set(IMPORT_EXPECT)


# --------------------------------------------------------------------------- backup files

@pytest.mark.parametrize("name", sorted(BACKUP_EXPECT))
def test_bad_backup_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.chdir(tmp_path)
    empty = Prepared(tmp_path / "empty.db")
    result = runner.invoke(app, ["--db", empty.url, "import-backup", str(BAD / "backup" / name)])
    refused(result, 2, BACKUP_EXPECT[name])
    assert "nothing was imported" in result.stderr
    assert not any(empty.snapshot().values())


# --------------------------------------------------------------------------- hotline import files

@pytest.mark.parametrize("name", sorted(IMPORT_EXPECT))
def test_bad_import_file(db: Prepared, name: str) -> None:
    before = db.snapshot()
    result = db.run(["hotline", "import", str(BAD / "import" / name), "--actor", "wujing"])
    refused(result, 2, IMPORT_EXPECT[name])
    assert "nothing was imported" in result.stderr or "UTF-8" in result.stderr or "header" in result.stderr
    assert db.snapshot() == before


# --------------------------------------------------------------------------- from a long path (issue 19)

# Messages name the file; a checkout or a folder with a long path must not change what they say
LONG = "a-deliberately-long-folder-name-" * 4 + "/" + "and-another-one-" * 4


@pytest.mark.parametrize(("kind", "name"), [("backup", "bad_checksum.jsonl"),
                                            ("backup", "children_before_parents.jsonl"),
                                            ("import", "gbk_encoded.csv"), ("import", "duplicate_tickets.csv")])
def test_bad_files_from_a_long_path(db: Prepared, tmp_path: Path, kind: str, name: str) -> None:
    where = tmp_path / LONG
    where.mkdir(parents=True)
    copy = where / name
    shutil.copyfile(BAD / kind / name, copy)
    assert len(str(copy)) > 200
    if kind == "backup":
        phrase = BACKUP_EXPECT[name]
        empty = Prepared(tmp_path / "empty.db")
        result = runner.invoke(app, ["--db", empty.url, "import-backup", str(copy)])
        refused(result, 2, phrase)
        assert not any(empty.snapshot().values())
    else:
        phrase = IMPORT_EXPECT[name]
        before = db.snapshot()
        result = db.run(["hotline", "import", str(copy), "--actor", "wujing"])
        refused(result, 2, phrase)
        assert db.snapshot() == before
    # the message's first line is whole: the file's name, and what happened, unbroken
    first = result.stderr.splitlines()[0]
    assert str(copy) in first, result.stderr
    assert any(phrase in line for line in result.stderr.splitlines()), result.stderr
    if "nothing was imported" in result.stderr:
        assert "nothing was imported" in first, result.stderr


# --------------------------------------------------------------------------- the corpus size

def test_the_corpus_holds_at_least_a_hundred_bad_inputs() -> None:
    total = len(CLI_CORPUS) + len(YAML_EXPECT) + 1 + len(BACKUP_EXPECT) + len(IMPORT_EXPECT)  # + 1: the huge file
    print(f"\nhostile corpus: {len(CLI_CORPUS)} command lines, {len(YAML_EXPECT) + 1} workflow files, "
          f"{len(BACKUP_EXPECT)} backups, {len(IMPORT_EXPECT)} import files: {total} bad inputs")
    assert total >= 100
