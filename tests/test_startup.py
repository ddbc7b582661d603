"""Start-up: an operator command runs on the published version, never on the YAML files, and loads only what it uses.

The published version stored in ``workflow_versions`` is the validated workflow's cache, keyed by
its content hash: a command rebuilds it from the stored data once the hash matches (without
parsing YAML or building a validator); a stored spec that no longer matches its hash is refused;
a changed file is validated again when it is published, and the next command runs on the new
version. These tests go through the command line (``python -m casecraft`` and the Typer app) and
the library; none times anything.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casecraft.cli import main as cli_main
from tests.conftest import snapshot

ROOT = Path(__file__).resolve().parents[1]
GRID5 = "110106004005005"
NOW = "2026-11-24T10:00"


def _run(env: dict[str, str], *args: str, importtime: bool = False) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "casecraft", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def db(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """A sandbox database with one reported case; the workflow file is a copy the test may change."""
    wf = tmp_path / "workflows.yaml"
    shutil.copy(ROOT / "workflows.yaml", wf)
    shutil.copy(ROOT / "organisation.yaml", tmp_path / "organisation.yaml")
    path = tmp_path / "cc.db"
    env = {**os.environ, "CASECRAFT_DB": f"sqlite:///{path}", "CASECRAFT_WORKFLOW": str(wf),
           "CASECRAFT_NOW": NOW, "PYTHONPATH": str(ROOT)}
    env.pop("CASECRAFT_SERVER", None)
    env.pop("CASECRAFT_TOKEN", None)

    def build() -> None:
        assert _run(env, "init", "--sandbox").returncode == 0
        r = _run(env, "case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101",
                 "--desc", "楼门张贴小广告", "--actor", "wangjg")
        assert r.returncode == 0, r.stderr

    # made by those two commands once per session, then copied (conftest.snapshot)
    snapshot(f"sqlite:///{path}", ("startup: a sandbox with case 1 reported at", NOW), build)
    return env, wf, path


def _imported(stderr: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_case_fire_runs_on_the_stored_version_without_the_files(db: tuple[dict[str, str], Path, Path]) -> None:
    env, wf, _ = db
    wf.write_text("this: [is not a workflow", encoding="utf-8")  # a command that read it would fail
    (wf.parent / "organisation.yaml").unlink()
    r = _run(env, "case", "fire", "1", "resolve", "--note", "已清除", "--actor", "wangjg", importtime=True)
    assert r.returncode == 0, r.stderr
    assert "case 1: 待核查 (to_check)" in r.stdout
    mods = _imported(r.stderr)
    # no YAML reader, no validator of workflow files (neither pydantic nor the file's models: the published
    # version is read as plain records), no ORM, no image library, no alert delivery, no parser of holiday
    # notices (the store's port names its type for the signatures only); and no Rich: its one line of output on
    # a pipe is plain text
    unused = {"ruamel.yaml", "casecraft.workflows.loader", "casecraft.workflows.validate", "sqlalchemy.orm",
              "pydantic", "casecraft.workflows.model",
              "PIL", "casecraft.alerts.supervision", "casecraft.intake.service", "httpx", "rich",
              "casecraft.timing.notice"}
    assert mods, "no import list: -X importtime did not run"
    assert not unused & mods, unused & mods


FIRE = ["case", "fire", "1", "resolve", "--note", "已清除", "--actor", "wangjg"]


def _main_in_a_process(env: dict[str, str], argv: list[str], *, before: str = "", finally_: str = "",
                       after: str = "") -> subprocess.CompletedProcess[str]:
    """``casecraft <argv>`` through the installed entry point's ``main`` in a new process; ``before`` runs before
    ``main`` is imported, ``finally_`` after it however it ended, ``after`` once it succeeded (Python code, each
    at the top level)."""
    code = (f"import sys; sys.argv = {['casecraft', *argv]!r}\n{before}from casecraft.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n")
    if finally_:
        code += "finally:\n" + textwrap.indent(finally_, "    ")
    code += after
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_case_fire_imports_only_its_own_part_of_the_command_line(db: tuple[dict[str, str], Path, Path]) -> None:
    """``casecraft case fire`` imports the ``case`` group's module and none of the other groups' (the
    installed entry point, ``casecraft.cli.main:main``), and converts its options without Typer's pydantic
    adapters (casecraft.cli.coerce)."""
    env, _, _ = db
    r = _main_in_a_process(env, FIRE, finally_="print('IMPORTED', ' '.join(sorted(sys.modules)), file=sys.stderr)\n")
    assert r.returncode == 0, r.stderr
    assert "case 1: 待核查 (to_check)" in r.stdout
    mods = set(r.stderr.rpartition("IMPORTED ")[2].split())
    cli = {m for m in mods if m.startswith("casecraft.cli.")}
    assert "casecraft.cli.case" in cli
    assert not cli & {"casecraft.cli.admin", "casecraft.cli.auth", "casecraft.cli.workflow", "casecraft.cli.report",
                      "casecraft.cli.alerts", "casecraft.cli.calendar", "casecraft.cli.login"}, cli
    assert not {"typer._adapters", "pydantic.plugin._loader"} & mods


def test_a_command_collects_garbage_again_once_its_engine_is_made(db: tuple[dict[str, str], Path, Path]) -> None:
    """The ``casecraft`` process starts without the garbage collector; once the command's engine is made, what
    was imported is frozen and collection resumes (a long run collects as usual). A program that runs the Typer
    app in its own process keeps its collector as it was."""
    env, _, _ = db
    r = _main_in_a_process(env, ["case", "show", "1"],
                           after="import gc\nprint('GC', gc.isenabled(), gc.get_freeze_count() > 0)\n")
    assert r.returncode == 0, r.stderr
    assert "GC True True" in r.stdout, r.stdout  # collecting again, the start-up frozen
    import gc

    before = (gc.isenabled(), gc.get_freeze_count())
    keep = ("CASECRAFT_DB", "CASECRAFT_WORKFLOW", "CASECRAFT_NOW")
    result = CliRunner().invoke(cli_main.app, ["case", "show", "1"], env={k: env[k] for k in keep})
    assert result.exit_code == 0, result.output
    assert (gc.isenabled(), gc.get_freeze_count()) == before


def test_case_fire_defines_no_dataclass_whose_docstring_python_makes(
        db: tuple[dict[str, str], Path, Path]) -> None:
    """Python 3.11 gives a dataclass without a docstring one made from ``inspect.signature`` when the class is
    defined, a cost every process pays at import: casecraft's dataclasses that ``case fire`` defines have their
    own."""
    env, _, _ = db
    r = _main_in_a_process(env, FIRE, finally_=(
            "import dataclasses\n"
            "made = [f'{m.__name__}.{n}' for m in list(sys.modules.values())\n"
            "        if getattr(m, '__name__', '').startswith('casecraft') for n, c in vars(m).items()\n"
            "        if isinstance(c, type) and c.__module__ == m.__name__ and dataclasses.is_dataclass(c)\n"
            "        and (c.__doc__ or '').startswith(c.__name__ + '(')]\n"
            "print('DATACLASSES', len([c for m in list(sys.modules.values()) if getattr(m, '__name__', '')"
            ".startswith('casecraft') for c in vars(m).values() if dataclasses.is_dataclass(c)]), file=sys.stderr)\n"
            "print('MADE', ' '.join(made), file=sys.stderr)\n"))
    assert r.returncode == 0, r.stderr
    assert "case 1: 待核查 (to_check)" in r.stdout
    assert int(r.stderr.rpartition("DATACLASSES ")[2].split()[0]) > 10  # the check saw the command's records
    assert r.stderr.rpartition("MADE")[2].split() == []


def test_case_fire_reads_the_sandbox_flag_once(db: tuple[dict[str, str], Path, Path]) -> None:
    """The flag read before the step's write is read at the administrative revision the write then finds, so the
    write keeps it instead of reading it again on a connection of its own."""
    env, _, _ = db
    r = _main_in_a_process(
        env, FIRE,
        before=("from sqlalchemy import event\nfrom sqlalchemy.engine import Engine\nseen = []\n"
                "event.listen(Engine, 'before_cursor_execute', lambda c, cur, sql, *a: seen.append(sql))\n"),
        finally_="print('META', sum('FROM meta' in s for s in seen), len(seen), file=sys.stderr)\n")
    assert r.returncode == 0, r.stderr
    assert "case 1: 待核查 (to_check)" in r.stdout
    meta, statements = map(int, r.stderr.rpartition("META ")[2].split()[:2])
    assert statements > 5  # the listener saw the command's statements
    assert meta == 1


def test_help_imports_neither_the_database_nor_the_engine(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = _run(env, "--help", importtime=True)
    assert r.returncode == 0
    mods = _imported(r.stderr)
    assert "casecraft.cli.main" in mods
    assert not {"sqlalchemy", "casecraft.engine", "pydantic", "rich", "casecraft.store.repo"} & mods


def test_the_published_version_is_rebuilt_without_validation(db: tuple[dict[str, str], Path, Path]) -> None:
    env, _, _ = db
    script = ("import sys\n"
              "from casecraft import Engine\n"
              "with Engine() as eng:\n"
              "    eng.fire(1, 'resolve', actor='wangjg', note='x')\n"
              "    print(eng.workflow.id, type(eng.workflow.file).__module__,\n"
              "          sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' or m.endswith('.model')))\n")
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # the stored version was the cache: read as plain records, with neither pydantic nor the file's models
    # (the validator of the file format) ever imported
    assert r.stdout.split() == ["dongaodi-grid", "casecraft.workflows.shape", "[]"]


def test_a_stored_spec_that_no_longer_matches_its_hash_is_refused(db: tuple[dict[str, str], Path, Path]) -> None:
    env, _, path = db
    with sqlite3.connect(path) as conn:
        before = conn.execute("SELECT state, version FROM cases WHERE id = 1").fetchone()
        spec = json.loads(conn.execute("SELECT spec FROM workflow_versions WHERE number = 1").fetchone()[0])
        spec["workflow"]["warn_at"] = 0.99  # a quiet change to the rules, hash left as it was
        conn.execute("UPDATE workflow_versions SET spec = ? WHERE number = 1", (json.dumps(spec),))
    r = _run(env, "case", "fire", "1", "resolve", "--note", "已清除", "--actor", "wangjg")
    assert r.returncode != 0
    assert "was changed in the database" in r.stderr and "Traceback" not in r.stderr
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT state, version FROM cases WHERE id = 1").fetchone() == before


def test_a_changed_file_is_validated_when_published_and_then_in_force(
        db: tuple[dict[str, str], Path, Path]) -> None:
    env, wf, path = db
    text = wf.read_text(encoding="utf-8")
    assert "warn_at: 0.8" in text
    wf.write_text(text.replace("warn_at: 0.8", "warn_at: 1.5"), encoding="utf-8")  # out of range
    r = _run(env, "workflow", "publish")
    assert r.returncode != 0 and "warn_at" in r.stderr  # validated again: the change is refused
    wf.write_text(text.replace("warn_at: 0.8", "warn_at: 0.7"), encoding="utf-8")
    r = _run(env, "workflow", "publish")
    assert r.returncode == 0, r.stderr
    assert " v2 is in force" in r.stdout
    r = _run(env, "case", "report", "--source", "patrol", "--grid", GRID5, "--category", "0101",
             "--desc", "又见小广告", "--actor", "wangjg")
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT c.id, v.number FROM cases c JOIN workflow_versions v "
                            "ON v.id = c.workflow_version_id ORDER BY c.id").fetchall()
    assert rows == [(1, 1), (2, 2)]


@pytest.mark.parametrize("argv", [["--help"], [], ["case", "--help"], ["case", "fire", "--help"],
                                  ["--db", "sqlite:///x.db", "case", "--help"], ["nosuch"], ["case", "nosuch"],
                                  ["init", "--help"], ["--at=2026-11-24T10:00", "alerts", "--help"],
                                  ["case", "fire"], ["case", "fire", "x", "resolve"], ["case", "--help", "fire"],
                                  ["--db", "case", "case", "show", "--help"], ["auth", "token", "--help"],
                                  ["auth", "token", "issue", "--help"], ["auth", "token", "nosuch"]])
def test_the_command_line_as_far_as_needed_says_what_the_whole_one_says(argv: list[str]) -> None:
    runner = CliRunner()
    whole = runner.invoke(cli_main.app, argv, prog_name="casecraft")
    part = runner.invoke(cli_main._for(argv), argv, prog_name="casecraft")
    assert (part.exit_code, part.output) == (whole.exit_code, whole.output)
    if argv[-1:] == ["--help"] and len(argv) > 1:
        assert cli_main._for(argv) is not cli_main.app  # the shortcut was taken


def test_a_command_in_a_group_is_built_alone() -> None:
    """``casecraft case fire ...`` builds the ``case`` group with ``fire`` only (``auth token issue``: the same
    one level down); a group's help, or a name it does not have, gets the whole group."""
    def listed(argv: list[str]) -> list[list[str]]:
        (group,) = cli_main._for(argv).registered_groups
        sub = group.typer_instance
        assert sub is not None
        return [[cli_main._name(c) for c in sub.registered_commands], [g.name or "" for g in sub.registered_groups]]

    assert listed(["case", "fire", "1", "resolve", "--note", "x"]) == [["fire"], []]
    assert listed(["--db", "case", "case", "fire", "1", "resolve"]) == [["fire"], []]
    assert listed(["auth", "token", "issue", "wangjg"])[1] == ["token"]
    assert len(listed(["case", "--help", "fire"])[0]) > 1
    assert len(listed(["case", "nosuch"])[0]) > 1


def test_the_entry_hash_is_the_canonical_text_of_the_entry(db: tuple[dict[str, str], Path, Path]) -> None:
    """Hashing encodes times by the encoder's fallback instead of a pass over the entry: the same hash."""
    import hashlib

    from casecraft import Engine
    from casecraft.cases import timeline as tl

    env, _, _ = db
    r = _run(env, "case", "fire", "1", "resolve", "--note", "已清除", "--actor", "wangjg")
    assert r.returncode == 0, r.stderr
    with Engine(env["CASECRAFT_DB"]) as eng, eng.store.read() as tx:
        rows = tx.timeline(1)
    assert len(rows) == 2 and rows[1].facts and rows[1].deadline_facts
    for e in rows:
        assert tl.entry_hash(e) == e.hash
        fields_ = {k: getattr(e, k) for k in (
            "hv", "case_id", "seq", "at", "recorded_at", "actor_id", "actor_name", "actor_role", "actor_unit",
            "on_behalf_of", "backfill", "trigger", "from_state", "to_state", "from_tier", "to_tier", "unit_code",
            "targets", "outcome", "note", "attachments", "facts", "deadline_facts", "prev_hash")}
        blob = json.dumps(tl._plain(fields_), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert hashlib.sha256(blob.encode()).hexdigest() == e.hash
