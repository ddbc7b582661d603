"""Reports officials can use: CSV, the Excel workbook read back, the PNG chart, the report commands, the monthly job."""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from casecraft import Engine, FixedClock, i18n
from casecraft.cli.main import app
from casecraft.evaluation import monthly_report, record_due
from casecraft.evaluation.export import display_width, write_csv, write_png, write_xlsx
from tests.conftest import WORKFLOW, bj
from tests.evaluation_month import COMM_D, G5, G11, G12, G51, STREET, built

AT = "2026-12-02T12:00"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('month') / 'casecraft.db'}"
    built(url)
    yield url


@pytest.fixture
def engine(db: str) -> Iterator[Engine]:
    eng = Engine(db, WORKFLOW, FixedClock(bj(2, "12:00", month=12)))
    yield eng
    eng.close()


def cli(db: str, *args: str, code: int = 0, at: str = AT) -> Result:
    result = CliRunner().invoke(app, ["--db", db, "--workflow", str(WORKFLOW), "--at", at, *args])
    assert result.exit_code == code, f"{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.output
    return result


def test_csv_has_chinese_headers_and_dashes(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(monthly_report(engine, "2026-11", "grid"), tmp_path / "grid.csv", i18n.CHINESE)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel shows the Chinese headers
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert [r["单位编码"] for r in rows] == [G5, G51, G11, G12]
    g5 = rows[0]
    assert (g5["排名"], g5["有效上报率"], g5["有效上报率(分子/分母)"], g5["得分"], g5["等级"], g5["环比"]) == (
        "1", "87.5%", "7/8", "65.83", "C", "+32.50")
    assert (rows[3]["核查率"], rows[3]["核查率(分子/分母)"]) == ("—", "0/0")


def test_xlsx_read_back(engine: Engine, tmp_path: Path) -> None:
    import openpyxl

    reports = [monthly_report(engine, "2026-11", lvl) for lvl in ("street", "community", "grid")]
    path = write_xlsx(reports, tmp_path / "evaluation.xlsx", i18n.CHINESE)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["街道", "社区", "网格"]
    grid = wb["网格"]
    header = [c.value for c in grid[1]]
    assert header[:6] == ["排名", "单位编码", "单位", "考评单位", "有效上报率", "有效上报率(分子/分母)"]
    assert header[-4:] == ["得分", "等级", "上月得分", "环比"]
    assert grid.freeze_panes == "A2"
    col = {name: i for i, name in enumerate(header)}
    g5 = [c.value for c in grid[2]]
    assert (g5[col["排名"]], g5[col["单位编码"]], g5[col["单位"]], g5[col["考评单位"]]) == (
        1, G5, "E社区第5网格", "东高地街道指挥分中心")
    assert g5[col["有效上报率"]] == pytest.approx(0.875)
    assert grid.cell(row=2, column=col["有效上报率"] + 1).number_format == "0.0%"
    assert g5[col["核实率"]] == pytest.approx(2 / 3)
    assert (g5[col["得分"]], g5[col["等级"]], g5[col["环比"]]) == (pytest.approx(65.83), "C", pytest.approx(32.5))
    g12 = [c.value for c in grid[5]]
    assert (g12[col["单位编码"]], g12[col["核查率"]], g12[col["核查率(分子/分母)"]]) == (G12, "—", "0/0")
    # Chinese columns are wide enough: width counts a CJK character as two
    name_width = grid.column_dimensions["C"].width
    assert name_width >= display_width("东高地社区第1网格") >= 16
    street = wb["街道"]
    assert [c.value for c in street[1]][4:6] == ["立案数", "公众举报率"]
    assert [c.value for c in street[2]][1] == STREET
    assert wb["社区"].max_row == 3


def test_exports_speak_the_language_asked(engine: Engine, tmp_path: Path) -> None:
    """Headers, sheet names and chart titles come from the catalogue in the caller's language; the workflow's own
    labels (indicators, levels) and the units' names stay as written."""
    import openpyxl

    report = monthly_report(engine, "2026-11", "grid")
    english = list(csv.reader(write_csv(report, tmp_path / "en.csv", i18n.ENGLISH).read_text(
        encoding="utf-8-sig").splitlines()))[0]
    assert english[:6] == ["month", "level", "rank", "unit code", "unit", "evaluated by"]
    assert english[6:8] == ["有效上报率", "有效上报率 (numerator/denominator)"]
    assert english[-4:] == ["score", "grade", "last month's score", "change"]
    reports = [monthly_report(engine, "2026-11", lvl) for lvl in ("street", "community", "grid")]
    wb = openpyxl.load_workbook(write_xlsx(reports, tmp_path / "en.xlsx", i18n.ENGLISH))
    assert wb.sheetnames == ["street", "community", "grid"]
    assert [c.value for c in wb["grid"][1]][:4] == ["rank", "unit code", "unit", "evaluated by"]
    for lang in (i18n.ENGLISH, i18n.CHINESE):  # both draw (the unit names are Chinese in either)
        assert write_png(report, tmp_path / f"{lang}.png", lang).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "en.png").read_bytes() != (tmp_path / "zh_CN.png").read_bytes()


def test_png_uses_a_cjk_font(engine: Engine, tmp_path: Path) -> None:
    report = monthly_report(engine, "2026-11", "grid")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = write_png(report, tmp_path / "ranking.png", i18n.CHINESE)
    missing = [str(w.message) for w in caught if "missing" in str(w.message).lower()]
    assert missing == []
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_report_monthly_cli(db: str, tmp_path: Path) -> None:
    out = cli(db, "report", "monthly", "--month", "2026-11", "--level", "grid", "--xlsx", str(tmp_path / "m.xlsx"),
              "--png", str(tmp_path / "m.png"), "--csv", str(tmp_path / "m.csv")).stdout
    assert "2026-11 网格考评排名" in out and "E社区第5网格" in out and "65.83" in out
    assert "－" in out and "—" not in out  # no East-Asian ambiguous dash inside the table
    for name in ("m.xlsx", "m.png", "m.csv"):
        assert (tmp_path / name).stat().st_size > 0
    data = json.loads(cli(db, "report", "monthly", "--month", "2026-11", "--level", "community", "--json").stdout)
    assert [(r["unit"], r["rank"], r["grade"]) for r in data["rows"]] == [
        ("110106004005", 1, "B"), (COMM_D, 2, "C")]
    assert data["rows"][1]["figures"]["public_report_rate"] == {"num": 0, "den": 4, "value": 0.0}
    assert data["complete"] is True and data["previous_month"] == "2026-10"
    only = json.loads(cli(db, "report", "monthly", "--month", "2026-11", "--org", COMM_D, "--json").stdout)
    assert [r["unit"] for r in only["rows"]] == [G11, G12]
    # the default month is the running one
    running = json.loads(cli(db, "report", "monthly", "--json", at="2026-11-11T12:00").stdout)
    assert (running["month"], running["complete"], running["workdays"]) == ("2026-11", False, 7)


def test_report_errors_exit_2(db: str) -> None:
    assert "YYYY-MM" in cli(db, "report", "monthly", "--month", "2026-13", code=2).stderr
    assert "unknown level" in cli(db, "report", "monthly", "--level", "city", code=2).stderr
    assert "unknown unit" in cli(db, "report", "history", "--org", "nope", code=2).stderr
    assert "not over yet" in cli(db, "report", "run", "--month", "2026-12", code=2).stderr


# (month, what the message tells the operator to type) at AT = 2026-12-02 12:00
BAD_MONTHS = [("9999-12", "give a month up to 2026-12"), ("0000-01", "from 1900-01 on"),
              ("2026-13", "a month from 01 to 12, e.g. 2026-12"), ("2027-01", "give a month up to 2026-12"),
              ("nonsense", "type it as YYYY-MM, e.g. 2026-12"), ("", "type it as YYYY-MM"),
              ("2026-11; DROP TABLE cases", "type it as YYYY-MM")]


@pytest.mark.parametrize(("month", "says"), BAD_MONTHS)
@pytest.mark.parametrize("command", [("monthly",), ("monthly", "--json"), ("case-stats",),
                                     ("monthly", "--csv", "x.csv")])
def test_a_bad_month_is_a_clean_input_error(db: str, tmp_path: Path, month: str, says: str,
                                            command: tuple[str, ...]) -> None:
    args = [a.replace("x.csv", str(tmp_path / "x.csv")) for a in command]
    err = cli(db, "report", *args, "--month", month, code=2).stderr
    assert says in err and month in err
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(("month", "says"), [
    ("9999-12", "has not started yet; a recorded run is of a finished month: give one up to 2026-11"),
    ("2027-01", "give one up to 2026-11"), ("2026-12", "not over yet; a recorded run is final: give a finished "
                                                        "month, up to 2026-11"),
    ("0000-01", "from 1900-01 on"), ("2026-13", "a month from 01 to 12, e.g. 2026-11"),
    ("nonsense", "YYYY-MM, e.g. 2026-11"), ("", "YYYY-MM")])
def test_report_run_refuses_a_bad_or_unfinished_month_and_records_nothing(db: str, month: str, says: str) -> None:
    assert says in cli(db, "report", "run", "--month", month, code=2).stderr
    assert "no recorded month" in cli(db, "report", "history", "--org", G5).stdout


@pytest.mark.parametrize("limit", ["0", "-1", "1201", "9223372036854775808"])
def test_history_limit_out_of_range(db: str, limit: str) -> None:
    assert "give from 1 to 1200 months" in cli(db, "report", "history", "--org", G5, f"--limit={limit}",
                                                code=2).stderr


def test_case_stats_cli(db: str) -> None:
    out = cli(db, "report", "case-stats", "--month", "2026-11").stdout
    assert "patrol" in out and "合计" in out and "0102 店外经营" in out
    data = json.loads(cli(db, "report", "case-stats", "--month", "2026-11", "--org", COMM_D, "--json").stdout)
    assert data["total"]["reported"] == 7 and data["total"]["rejected"] == 2


def test_run_and_history_cli_and_the_monthly_job(tmp_path: Path) -> None:
    from casecraft.scheduler import build_scheduler

    # a month of its own, so the recorded run does not leak into the other tests
    url = f"sqlite:///{tmp_path / 'run.db'}"
    _, now = built(url)
    eng = Engine(url, WORKFLOW, FixedClock(now))
    # the scheduler's monthly job, run by hand: the first call on Dec 2 records November, later ones nothing
    sched = build_scheduler(lambda: {}, blocking=False, monthly=lambda: record_due(eng))
    job = sched.get_job("monthly-evaluation")
    assert job is not None
    job.func()
    job.func()
    eng.close()
    assert "no recorded month" not in cli(url, "report", "history", "--org", G5).stdout
    hist = json.loads(cli(url, "report", "history", "--org", G5, "--json").stdout)
    assert [(h["period"], h["score"], h["grade"], h["rank"], h["group_size"], h["trigger"]) for h in hist] == [
        ("2026-11", 65.83, "C", 1, 4, "scheduler")]
    assert "was already recorded" in cli(url, "report", "run", "--month", "2026-11").stdout
    table = cli(url, "report", "history", "--org", G5).stdout
    assert "2026-11" in table and "65.83" in table and "1/4" in table
    assert "recorded 2026-10" in cli(url, "report", "run", "--month", "2026-10").stdout
