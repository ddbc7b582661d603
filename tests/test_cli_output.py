"""What the command line prints is safe: user text as written, nothing that steers the terminal.

* On a pipe (and in CliRunner) every message is one plain line, however long its
  file path (issue 19); a terminal still gets Rich's wrapping and styles.
* User text is stored as given and printed escaped: Rich markup (``[blink]``,
  ``[link=...]``) and emoji codes (``:x:``) stay inert; C0/C1 controls, DEL, bidi
  overrides and zero-width characters show as ``\\u202e``-style text in every
  table cell and message; ``--json`` carries them as JSON escapes.
* Table cells hold no East-Asian ambiguous character of casecraft's own
  (Rich counts them as one column, CJK terminals as two).
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from casecraft.cli import render
from casecraft.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "workflows.yaml"
GRID5 = "110106004005005"
AT = "2026-11-24T10:00"
MARKUP = "[blink][link=https://evil.example]110106[/link]"
# one description per kind of hostile character (the engine accepts these at input)
HOSTILE = {
    "markup": f"{MARKUP} 小广告",
    "emoji": "路灯坏了 :x: :warning: 请处理",
    "c1": "井盖\u009b31m缺失\u009d8;;https://evil.example\u009c",
    "del": "占道\x7f经营",
    "bidi": "楼道堆物\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    "zero_width": "私搭\u200b乱\u200c建\u200d\u2060\ufeff",
}
# what the engine refuses at input but a database may still hold (an old version, a restored backup)
STORED = "旧数据\x1b]8;;https://evil.example\x1b\\点这里\x1b]8;;\x1b\\\x1b[5m闪\r\x07"
UNIT_NAME = "民政科 :x: :warning: \u202e\u200b\u009b\x7f"
UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def _bad_chars(text: str) -> list[str]:
    """Characters that must never reach a terminal raw (the line feed is fine)."""
    return sorted({f"U+{ord(c):04X}" for c in text if c != "\n" and unicodedata.category(c) in UNSAFE_CATEGORIES})


def _shown(text: str) -> str:
    """How casecraft prints ``text``: each unsafe character as ``\\uXXXX``."""
    return "".join(f"\\u{ord(c):04x}" if c != "\n" and unicodedata.category(c) in UNSAFE_CATEGORIES else c
                   for c in text)


# --------------------------------------------------------------------------- the escaping function


def test_the_unsafe_class_covers_every_control_format_and_separator_character() -> None:
    """Every Cc/Cf/Cs/Zl/Zp character but the line feed is escaped; nothing assigned outside them is."""
    missed, extra = [], []
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        hit = render.UNSAFE.match(ch) is not None
        if cat in UNSAFE_CATEGORIES and ch != "\n" and not hit:
            missed.append(f"U+{cp:04X}")
        elif hit and cat not in UNSAFE_CATEGORIES and cat != "Cn":  # Cn: format characters of a newer Unicode
            extra.append(f"U+{cp:04X}")
    assert not missed and not extra, (missed[:20], extra[:20])
    assert render.UNSAFE.match("\n") is None


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_visible_shows_each_hostile_character_as_an_escape(kind: str) -> None:
    text = HOSTILE[kind]
    shown = render.visible(text)
    assert shown == _shown(text)
    assert not _bad_chars(shown)


def test_visible_keeps_text_and_line_breaks_and_spells_astral_characters() -> None:
    assert render.visible("第一行\n第二行 [b]x[/b] :x:") == "第一行\n第二行 [b]x[/b] :x:"
    assert render.visible("a\U000e0041b\ud800") == "a\\U000e0041b\\ud800"  # a tag character, a lone surrogate
    assert render.visible(None) == ""
    assert render.safe("[blink]x") == "\\[blink]x"


def test_json_output_escapes_the_same_characters_and_reads_back_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    data = {"d": "".join(HOSTILE.values()) + STORED + "\U000e0041\n"}
    render.print_json(data)
    printed = capsys.readouterr().out
    assert not _bad_chars(printed)
    assert json.loads(printed) == data


def _terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Make stdout and stderr one fake colour terminal, 300 columns wide."""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLORTERM", "truecolor")
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setattr(sys, "stderr", stream)
    return stream


def test_on_a_terminal_markup_stays_inert_and_only_casecraft_styles(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _terminal(monkeypatch)
    render.error(f"unit {MARKUP} {HOSTILE['emoji']} {HOSTILE['bidi']}", 2)
    render.line(STORED)
    text = stream.getvalue()
    assert "\x1b[" in text  # a real terminal: the label is styled
    assert "\x1b]8;" not in text and "\x1b[5m" not in text  # no hyperlink, no blink
    assert MARKUP in text and ":x: :warning:" in text
    assert _shown(STORED) in text
    assert not _bad_chars(text.replace("\x1b", ""))  # only casecraft's own escape sequences


# --------------------------------------------------------------------------- issue 19: one message, one line

LONG_DIR = "d" * 120 + "/" + "e" * 60  # with the folder it sits in: a path of over 200 characters


def test_a_refusal_naming_a_long_path_is_one_line_in_cli_runner(tmp_path: Path) -> None:
    target = tmp_path / LONG_DIR / "missing" / "schema.json"
    assert len(str(target)) > 200
    result = CliRunner().invoke(app, ["workflow", "schema", "-o", str(target)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot write ") and str(target) in lines[0]
    assert "create it first" in lines[0]


def test_a_refusal_naming_a_long_path_is_one_line_in_a_real_process(tmp_path: Path) -> None:
    target = tmp_path / LONG_DIR / "missing" / "schema.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASECRAFT_")}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="80", FORCE_COLOR="1")  # neither may wrap or style a pipe
    proc = subprocess.run([sys.executable, "-m", "casecraft", "workflow", "schema", "-o", str(target)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.endswith("\n"), proc.stderr
    assert str(target) in proc.stderr and "\x1b" not in proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- user text through the CLI


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A database with one case per hostile description, a stored ESC/CR/BEL one, and a hostile unit."""
    where = tmp_path_factory.mktemp("output")
    db = where / "casecraft.db"
    runner = CliRunner()
    head = ["--db", f"sqlite:///{db}", "--workflow", str(WORKFLOW), "--at", AT]
    assert runner.invoke(app, [*head, "init", "--sandbox"]).exit_code == 0
    for kind in (*HOSTILE, "stored"):
        result = runner.invoke(app, [*head, "case", "report", "--source", "patrol", "--grid", GRID5,
                                     "--category", "0101", "--desc", "placeholder", "--actor", "wangjg"])
        assert result.exit_code == 0, (kind, result.output)
    with sqlite3.connect(db) as conn:  # what input checks refuse today, held by an older database
        for i, kind in enumerate(HOSTILE, start=1):
            conn.execute("UPDATE cases SET description = ? WHERE id = ?", (HOSTILE[kind], i))
        conn.execute("UPDATE cases SET description = ? WHERE id = ?", (STORED, len(HOSTILE) + 1))
        conn.execute("UPDATE units SET code = ?, name = ? WHERE code = '110106004-mzk'",
                     (MARKUP, UNIT_NAME))
    conn.close()
    yield db


def _run(db: Path, *args: str) -> Result:
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{db}", "--workflow", str(WORKFLOW), "--at", AT, *args])
    assert result.exit_code == 0, result.output
    assert result.exception is None
    return result


def _clean(output: str) -> None:
    assert "\x1b]8;" not in output and "evil.example\x1b" not in output
    assert not _bad_chars(output), _bad_chars(output)


@pytest.mark.parametrize("kind", [*sorted(HOSTILE), "stored"])
def test_case_show_prints_each_description_as_written_and_escaped(hostile_db: Path, kind: str) -> None:
    case_id = [*HOSTILE, "stored"].index(kind) + 1
    out = _run(hostile_db, "case", "show", str(case_id)).stdout
    _clean(out)
    text = HOSTILE.get(kind, STORED)
    assert _shown(text) in out, out


def test_case_list_prints_descriptions_inert(hostile_db: Path) -> None:
    out = _run(hostile_db, "case", "list").stdout
    _clean(out)
    # the last column, its folded lines joined: each description's first 30 characters, escaped
    column = "".join("".join(line.split("│")[-2].split()) for line in out.splitlines() if line.count("│") > 2)
    for kind in HOSTILE:
        assert "".join(_shown(HOSTILE[kind][:30]).split()) in column, kind


def test_org_show_prints_a_markup_unit_code_as_text(hostile_db: Path) -> None:
    out = _run(hostile_db, "org", "show").stdout
    _clean(out)
    assert f"{_shown(UNIT_NAME)} ({MARKUP}, street 科室)" in out


def test_json_keeps_the_stored_text_exactly(hostile_db: Path) -> None:
    for case_id, text in enumerate([*HOSTILE.values(), STORED], start=1):
        out = _run(hostile_db, "case", "show", str(case_id), "--json").stdout
        assert not _bad_chars(out)
        assert json.loads(out)["description"] == text


def test_casecrafts_own_table_cells_hold_no_ambiguous_width_character(tmp_path: Path) -> None:
    """The demo's timelines (dispatches with targets, feedback), the list, alerts and the ranking."""
    db = tmp_path / "demo.db"
    runner = CliRunner()
    head = ["--db", f"sqlite:///{db}", "--workflow", str(WORKFLOW)]
    assert runner.invoke(app, [*head, "demo", "--json"]).exit_code == 0
    outputs = [runner.invoke(app, [*head, "--at", "2026-11-24T18:00", *args])
               for args in (["case", "show", "1"], ["case", "show", "2"], ["case", "show", "3"], ["case", "list"],
                            ["alerts", "list"], ["report", "monthly", "--month", "2026-11"])]
    for result in outputs:
        assert result.exit_code == 0, result.output
        body = "\n".join(line for line in result.stdout.splitlines() if "│" in line)  # table rows only
        cells = "".join(c for c in body if not 0x2500 <= ord(c) <= 0x257F)  # without the borders
        ambiguous = sorted({c for c in cells if unicodedata.east_asian_width(c) == "A"})
        assert not ambiguous, (ambiguous, body)
