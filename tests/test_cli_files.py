"""Every option that writes a file is safe: it never destroys data, never leaves a partial file.

One test runs every such option (``workflow diagram -o`` in each format,
``workflow schema -o``, ``export``, ``hotline import --rejects``, ``report monthly
--csv/--xlsx/--png``, ``case show --diagram``) against the live database, its
``-wal``/``-shm``/``-journal`` files, the attachment folder (beside the database and
``$CASECRAFT_DATA``), a link to the database, an existing file, a folder and a missing
folder: each is refused with exit 2 and a message saying what to do, nothing is
written and the database is unchanged. With ``--force`` an existing file is
replaced. Files are created 0600 and staging folders 0700 under umask 022; CSV
cells from user text cannot run as formulas; XLSX cells are strings.
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from casecraft.base.errors import InputError
from casecraft.cli import files
from casecraft.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "workflows.yaml"
GRID5 = "110106004005005"
AT = "2026-11-24T10:00"
HOTLINE = ("ticket,channel,received_at,category,description,grid\n"
           "12345-20261124-0001,12345,2026-11-24 08:00,0101,楼道小广告,110106004005005\n"
           "12345-20261124-0002,12345,not a time,0101,井盖缺失,110106004005005\n")


@dataclass(frozen=True)
class Option:
    """One option that writes a file: the command line around the path, and the file's suffix."""

    name: str
    args: Callable[[str], list[str]]
    suffix: str
    lead: bool = False  # applied in a file the lead owns (case.py): expected to fail until then


OPTIONS = [
    *(Option(f"workflow diagram .{s}", lambda p: ["workflow", "diagram", "-o", p], f".{s}")
      for s in ("png", "svg", "dot", "mmd", "bpmn")),
    Option("workflow schema", lambda p: ["workflow", "schema", "-o", p], ".json"),
    Option("export", lambda p: ["export", p], ".jsonl"),
    Option("hotline import --rejects", lambda p: ["hotline", "import", "orders.csv", "--actor", "wujing",
                                                  "--skip-bad", "--rejects", p], ".csv"),
    Option("report monthly --csv", lambda p: ["report", "monthly", "--month", "2026-11", "--csv", p], ".csv"),
    Option("report monthly --xlsx", lambda p: ["report", "monthly", "--month", "2026-11", "--xlsx", p], ".xlsx"),
    Option("report monthly --png", lambda p: ["report", "monthly", "--month", "2026-11", "--png", p], ".png"),
    Option("case show --diagram", lambda p: ["case", "show", "1", "--diagram", p], ".svg"),
]
LEAD = pytest.mark.xfail(strict=True, reason="the lead routes `case show --diagram` through files.output and adds "
                                             "--force in casecraft/cli/case.py; then remove this mark")


def _params(extra: list[str] | None = None) -> list[object]:
    out = []
    for o in OPTIONS:
        for e in extra or [""]:
            ident = f"{o.name}-{e}" if e else o.name
            out.append(pytest.param(o, e, id=ident, marks=[LEAD] if o.lead else []) if extra
                       else pytest.param(o, id=ident, marks=[LEAD] if o.lead else []))
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised database with one case."""
    db = tmp_path_factory.mktemp("files") / "casecraft.db"
    runner = CliRunner()
    head = ["--db", f"sqlite:///{db}", "--workflow", str(WORKFLOW), "--at", AT]
    for args in (["init", "--sandbox"], ["case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101",
                            "--desc", "巡查发现小广告", "--actor", "wangjg"]):
        result = runner.invoke(app, [*head, *args])
        assert result.exit_code == 0, result.output
    return db


@dataclass
class Place:
    """A folder with a copy of the database, as an operator's working directory."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "casecraft.db"

    def run(self, args: list[str], env: dict[str, str] | None = None) -> Result:
        head = ["--db", f"sqlite:///{self.db}", "--workflow", str(WORKFLOW), "--at", AT]
        return CliRunner().invoke(app, [*head, *args], env=env)

    def content(self) -> list[str]:
        with sqlite3.connect(self.db) as conn:
            rows = list(conn.iterdump())
        conn.close()
        return rows

    def listing(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*"))


@pytest.fixture
def place(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Place]:
    for var in ("CASECRAFT_NOW", "CASECRAFT_DB", "CASECRAFT_WORKFLOW", "CASECRAFT_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(template, tmp_path / "casecraft.db")
    (tmp_path / "orders.csv").write_text(HOTLINE, encoding="utf-8")
    (tmp_path / "casecraft-data").mkdir()
    (tmp_path / "photos").mkdir()
    (tmp_path / "a-folder").mkdir()
    old = os.umask(0o022)
    yield Place(tmp_path)
    os.umask(old)


def refused(result: Result, phrase: str) -> None:
    detail = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit), f"crashed: {result.exception!r}"
    assert result.exit_code == 2, detail
    assert "Traceback" not in result.output, detail
    assert phrase in result.stderr, detail
    assert len(result.stderr.splitlines()) == 1, detail


# (target name, path as typed, phrase of the refusal, environment)
TARGETS: dict[str, tuple[Callable[[Place, str], str], str, dict[str, str]]] = {
    "live database": (lambda p, s: "casecraft.db", "it is the live database", {}),
    "live database, absolute": (lambda p, s: str(p.db), "it is the live database", {}),
    "its -wal": (lambda p, s: "casecraft.db-wal", "live database's wal file", {}),
    "its -shm": (lambda p, s: "casecraft.db-shm", "live database's shm file", {}),
    "its -journal": (lambda p, s: "casecraft.db-journal", "live database's journal file", {}),
    "a link to it": (lambda p, s: _link(p, s), "it is the live database", {}),
    "the attachment folder": (lambda p, s: f"casecraft-data/out{s}", "inside the attachment folder", {}),
    "CASECRAFT_DATA": (lambda p, s: f"photos/out{s}", "inside the attachment folder", {"CASECRAFT_DATA": "photos"}),
    "an existing file": (lambda p, s: _existing(p, s), "already exists: add --force", {}),
    "a folder": (lambda p, s: "a-folder", "is a folder", {}),
    "the current folder": (lambda p, s: ".", "is a folder", {}),
    "a missing folder": (lambda p, s: f"/nonexistent/x{s}", "does not exist; create it first", {}),
}


def _link(place: Place, suffix: str) -> str:
    (place.root / f"link{suffix}").symlink_to(place.db)
    return f"link{suffix}"


def _existing(place: Place, suffix: str) -> str:
    (place.root / f"existing{suffix}").write_bytes(b"keep me")
    return f"existing{suffix}"


@pytest.mark.parametrize(("option", "target"), _params(list(TARGETS)))
def test_every_output_option_refuses_every_dangerous_path(place: Place, option: Option, target: str) -> None:
    make, phrase, env = TARGETS[target]
    path = make(place, option.suffix)
    before, listing = place.content(), place.listing()
    refused(place.run(option.args(path), env=env), phrase)
    assert place.content() == before  # the database is unchanged
    assert place.listing() == listing  # nothing written, no staging folder left
    if target == "an existing file":
        assert (place.root / path).read_bytes() == b"keep me"


@pytest.mark.parametrize("option", _params())
def test_force_replaces_an_existing_file_privately(place: Place, option: Option) -> None:
    path = _existing(place, option.suffix)
    result = place.run([*option.args(path), "--force"])
    assert result.exit_code == 0, result.output
    written = place.root / path
    assert written.read_bytes() != b"keep me" and written.stat().st_size > 0
    assert written.stat().st_mode & 0o777 == 0o600  # under umask 022
    assert not [p for p in place.root.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("option", _params())
def test_a_new_file_is_written_private(place: Place, option: Option) -> None:
    result = place.run(option.args(f"new{option.suffix}"))
    assert result.exit_code == 0, result.output
    assert (place.root / f"new{option.suffix}").stat().st_mode & 0o777 == 0o600


def test_a_hotline_import_never_overwrites_its_own_input(place: Place) -> None:
    before = place.content()
    refused(place.run(["hotline", "import", "orders.csv", "--actor", "wujing", "--skip-bad", "--rejects",
                       "orders.csv", "--force"]), "it is the command's input file")
    assert place.content() == before
    assert (place.root / "orders.csv").read_text(encoding="utf-8") == HOTLINE


def test_a_diagram_never_overwrites_the_workflow_file(place: Place, tmp_path: Path) -> None:
    wf = tmp_path / "wf.bpmn"
    wf.write_text(WORKFLOW.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "organisation.yaml").write_text((ROOT / "organisation.yaml").read_text(encoding="utf-8"),
                                                encoding="utf-8")
    refused(place.run(["workflow", "diagram", str(wf), "-o", str(wf), "--force"]), "the command's input file")
    assert wf.read_text(encoding="utf-8") == WORKFLOW.read_text(encoding="utf-8")


def test_the_key_and_the_workflow_are_never_an_output_even_with_force(place: Place) -> None:
    """QA, 2026-12-01: ``audit seal -o seal.key --key-file seal.key --force`` replaced the key with the seal,
    ``export k.key --key-file k.key --force`` the key with the backup it signed, and ``report monthly --csv`` the
    workflow file it ran on."""
    from casecraft.audit.seal import KEY_ENV
    from casecraft.cli.files import KEY_ENV as PROTECTED_KEY_ENV

    assert PROTECTED_KEY_ENV == KEY_ENV  # the same variable (kept twice: the command line does not import seal)
    assert place.run(["audit", "keygen", "-o", "seal.key"]).exit_code == 0
    key = (place.root / "seal.key").read_text(encoding="utf-8")
    refused(place.run(["audit", "seal", "-o", "seal.key", "--key-file", "seal.key", "--force"]),
            "it is the command's input file")
    refused(place.run(["export", "seal.key", "--key-file", "seal.key", "--force"]), "it is the command's input file")
    refused(place.run(["export", "seal.key", "--force"], env={"CASECRAFT_SEAL_KEY_FILE": "seal.key"}),
            "it is the command's input file")
    assert (place.root / "seal.key").read_text(encoding="utf-8") == key
    refused(place.run(["report", "monthly", "--month", "2026-11", "--csv", str(WORKFLOW), "--force"]),
            "it is the command's input file")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into any folder")
def test_a_folder_that_is_not_writable_is_refused(place: Place) -> None:
    locked = place.root / "locked"
    locked.mkdir(mode=0o500)
    refused(place.run(["workflow", "schema", "-o", "locked/s.json"]), "is not writable")


def test_a_mistyped_database_is_not_created_by_export_or_a_report(place: Place) -> None:
    for args in (["export", "out.jsonl"], ["report", "monthly", "--month", "2026-11"], ["audit", "verify"]):
        result = CliRunner().invoke(app, ["--db", "sqlite:///casecraft.bd", "--workflow", str(WORKFLOW), *args])
        refused(result, "no database at")
        assert not (place.root / "casecraft.bd").exists()
        assert not (place.root / "out.jsonl").exists()


# --------------------------------------------------------------------------- the helper itself


def test_an_error_while_writing_leaves_nothing(place: Place) -> None:
    target = place.root / "report.csv"
    with pytest.raises(InputError, match="the writer broke"):
        with files.output(target, db=f"sqlite:///{place.db}") as tmp:
            tmp.write_text("half a fil", encoding="utf-8")
            raise InputError("the writer broke")
    assert not target.exists()
    assert not [p for p in place.root.iterdir() if p.name.startswith(".report.csv")]


def test_staging_is_private_and_the_file_is_0600_whatever_the_umask(place: Place) -> None:
    target = place.root / "out.txt"
    with files.output(target, db=f"sqlite:///{place.db}") as tmp:
        assert tmp.parent.parent == place.root and tmp.name == "out.txt"
        assert tmp.parent.stat().st_mode & 0o777 == 0o700
        tmp.write_text("x", encoding="utf-8")
        assert not target.exists()  # nothing under the final name until the end
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.read_text(encoding="utf-8") == "x"


def test_a_file_that_appears_meanwhile_is_not_clobbered_without_force(place: Place) -> None:
    target = place.root / "race.txt"
    with pytest.raises(InputError, match="already exists"):
        with files.output(target, db=f"sqlite:///{place.db}") as tmp:
            tmp.write_text("mine", encoding="utf-8")
            target.write_text("theirs", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "theirs"


def test_nothing_written_means_no_file(place: Place) -> None:
    with files.output(place.root / "rejects.csv", db=f"sqlite:///{place.db}"):
        pass
    assert not (place.root / "rejects.csv").exists()


def test_a_device_is_never_replaced_even_with_force(place: Place) -> None:
    refused(place.run(["workflow", "schema", "-o", os.devnull, "--force"]), "not a regular file")
    assert Path(os.devnull).is_char_device()


def test_a_hard_link_to_the_database_is_refused(place: Place) -> None:
    os.link(place.db, place.root / "copy.db")
    with pytest.raises(InputError, match="live database"):
        files.check_output(place.root / "copy.db", db=f"sqlite:///{place.db}", force=True)


def test_the_demo_database_is_cleared_only_if_it_is_a_database(place: Place) -> None:
    demo = place.root / "casecraft-demo.db"
    shutil.copyfile(place.db, demo)
    (place.root / "casecraft-demo.db-wal").write_bytes(b"")
    assert files.demo_database(demo, live=f"sqlite:///{place.db}") == f"sqlite:///{demo}"
    assert not demo.exists() and not (place.root / "casecraft-demo.db-wal").exists()
    demo.write_text("my notes", encoding="utf-8")
    with pytest.raises(InputError, match="not a casecraft database"):
        files.demo_database(demo, live=f"sqlite:///{place.db}")
    assert demo.read_text(encoding="utf-8") == "my notes"
    with pytest.raises(InputError, match="live database"):
        files.demo_database(place.db, live=f"sqlite:///{place.db}")
    assert place.db.exists()


# --------------------------------------------------------------------------- spreadsheet injection


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_report_csv_cells_from_user_text_cannot_run_as_formulas(place: Place) -> None:
    evil = {"E社区第5网格": "=HYPERLINK(\"https://evil.example\",\"点我\")", "E社区": "@SUM(1+1)*cmd|' /C calc'!A0",
            "东高地街道指挥分中心": "+1-2", "E社区第1网格": "-3+4", "东高地社区": "\t=1"}
    with sqlite3.connect(place.db) as conn:
        for name, bad in evil.items():
            conn.execute("UPDATE units SET name = ? WHERE name = ?", (bad, name))
    conn.close()
    for level in ("grid", "community", "street"):
        out = f"{level}.csv"
        result = place.run(["report", "monthly", "--month", "2026-11", "--level", level, "--csv", out])
        assert result.exit_code == 0, result.output
        with open(place.root / out, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        cells = [c for row in rows for c in row]
        for bad in evil.values():
            assert bad not in cells  # never as typed at the start of a cell...
        for c in cells:  # casecraft's own numbers (a change of +0.50) may start with a sign
            assert not c.startswith(("=", "+", "-", "@", "\t", "\r")) or _number(c), c
        names = {row[4] for row in rows[1:]}
        assert names & {"'" + bad for bad in evil.values()}  # ...but kept, behind a quote


def test_xlsx_cells_from_user_text_are_strings_never_formulas(place: Place) -> None:
    with sqlite3.connect(place.db) as conn:
        conn.execute("UPDATE units SET name = '=1+1' WHERE name = 'E社区第5网格'")
    conn.close()
    result = place.run(["report", "monthly", "--month", "2026-11", "--xlsx", "r.xlsx"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(place.root / "r.xlsx") as z:
        sheets = [z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        strings = z.read("xl/sharedStrings.xml").decode("utf-8")
    assert sheets and not any("<f>" in s for s in sheets)
    assert "=1+1" in strings
