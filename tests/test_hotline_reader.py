"""The streaming hotline reader: rows read one at a time, bad rows named, memory flat whatever the size.

Pure library tests (no casecraft database): :func:`open_hotline`, :meth:`HotlineSource.validate`,
:meth:`Validation.iter_batches` and :meth:`Validation.write_rejects`. The import time is fixed;
nothing sleeps or is timed. ``tests/data/bad/hotline/`` holds the small hostile files.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from casecraft.base.errors import InputError
from casecraft.intake.hotline import (
    Limits,
    RowProblem,
    Ticket,
    Validation,
    open_hotline,
)
from tests.conftest import bj

BAD = Path(__file__).resolve().parent / "data" / "bad" / "hotline"
NOW = bj(24, "08:40")
CATEGORIES = {"0101": "小广告", "0102": "店外经营", "0103": "占道经营", "0104": "垃圾"}
HEADER = "ticket,channel,received_at,address,grid,category,description,contact"
GRID5 = "110106004005005"
MIB = 1024 * 1024


def row(i: int, *, cat: str = "0101", desc: str | None = None, ticket: str | None = None) -> str:
    return f"{ticket or f'T-{i:06d}'},12345,2026-11-24T08:00,,{GRID5},{cat},{desc or f'第{i}条'},"


def jrow(i: int, **over: object) -> str:
    obj: dict[str, object] = {"ticket": f"J-{i:06d}", "channel": "96005", "received_at": "2026-11-24T08:00",
                              "grid": GRID5, "category": "0102", "description": f"店外经营{i}"}
    return json.dumps({**obj, **over}, ensure_ascii=False)


def write(path: Path, *lines: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


@contextmanager
def check(path: Path, limits: Limits | None = None, fmt: str | None = None) -> Iterator[Validation]:
    """The file opened and validated at NOW; both closed on leaving."""
    with open_hotline(path, limits=limits, fmt=fmt) as src, src.validate(
            categories=CATEGORIES, now=NOW, timezone="Asia/Shanghai") as v:
        yield v


def validated(path: Path, limits: Limits | None = None) -> tuple[int, list[RowProblem], list[str]]:
    """(rows, every problem, the good tickets' numbers)."""
    with check(path, limits) as v:
        return v.rows, list(v.iter_problems()), [t.ticket for b in v.iter_batches(1000) for t in b]


# --------------------------------------------------------------------------- over-long fields and rows


def test_a_2_000_000_character_description_is_a_row_problem(tmp_path: Path) -> None:
    src = write(tmp_path / "long.csv", HEADER, row(1), row(2, desc="x" * 2_000_000), row(3))
    rows, problems, good = validated(src)
    assert rows == 3 and good == ["T-000001", "T-000003"]
    assert [str(p) for p in problems] == ["row 3, description: is 2000000 characters; at most 2000 are allowed"]
    assert problems[0].template == "is {length} characters; at most {limit} are allowed"
    assert dict(problems[0].details) == {"length": 2_000_000, "limit": 2000}


def test_a_row_over_the_byte_cap_is_skipped_unread_and_the_next_rows_are_read(tmp_path: Path) -> None:
    # a quoted field over several lines, with commas, doubled quotes and a quote at a chunk's edge
    huge = '"' + ('他说""好"",\n' * 300_000) + '"'
    t2 = f"T-2,12345,2026-11-24T08:00,,{GRID5},0101,{huge},"
    src = write(tmp_path / "huge.csv", HEADER, row(1), t2, row(3, desc='"带引号, 和逗号"'), "", row(5, cat="0999"))
    rows, problems, good = validated(src, Limits(max_row_bytes=MIB))
    assert rows == 4 and good == ["T-000001", "T-000003"]
    end_of_t2 = 3 + 300_000  # T-2 starts on line 3 and spans 300,001 lines; then T-3, a blank line, T-5
    assert [(p.row, p.field) for p in problems] == [(3, "-"), (end_of_t2 + 3, "category")]
    assert problems[0].reason.startswith(f"is {len(t2.encode()) + 1} bytes long; a row may have at most {MIB} bytes")


def test_a_10_mb_json_line_is_a_row_problem(tmp_path: Path) -> None:
    src = write(tmp_path / "big.jsonl", jrow(1), jrow(2, description="长" * 3_500_000), jrow(3), jrow(4, channel=110))
    rows, problems, good = validated(src)
    assert rows == 4 and good == ["J-000001", "J-000003"]
    assert [(p.row, p.field) for p in problems] == [(2, "-"), (4, "channel")]
    assert problems[0].reason.startswith("is 10500") and "at most 4194304 bytes" in problems[0].reason


def test_a_long_line_ending_exactly_at_the_cap_does_not_swallow_the_next(tmp_path: Path) -> None:
    line = jrow(2, description="x" * 200)
    cap = len(line.encode())  # the line and its newline are one byte over
    src = write(tmp_path / "edge.jsonl", jrow(1, description="x" * 190), line, jrow(3, description="x" * 190))
    rows, problems, good = validated(src, Limits(max_row_bytes=cap))
    assert rows == 3 and good == ["J-000001", "J-000003"] and [p.row for p in problems] == [2]


# --------------------------------------------------------------------------- duplicates, caps


def test_a_duplicate_ticket_at_the_end_of_50_000_rows(tmp_path: Path) -> None:
    src = write(tmp_path / "dup.csv", HEADER, *(row(i) for i in range(50_000)), row(50_000, ticket="T-000000"))
    with check(src) as v:
        assert (v.rows, v.problem_count, v.bad_rows) == (50_001, 2, 2)
        assert [str(p) for p in v.problems] == [
            f"row {r}, ticket: ticket T-000000 appears 2 times in the file (rows 2, 50002); keep one"
            for r in (2, 50002)]
        batches = list(v.iter_batches(500))
        assert [len(b) for b in batches] == [500] * 99 + [499]
        assert batches[0][0].ticket == "T-000001" and batches[-1][-1].ticket == "T-049999"


def test_a_ticket_repeated_many_times_names_its_first_rows(tmp_path: Path) -> None:
    src = write(tmp_path / "rep.csv", HEADER, *(row(i, ticket="SAME") for i in range(25)), row(99))
    rows, problems, good = validated(src)
    assert rows == 26 and good == ["T-000099"] and len(problems) == 25
    assert problems[0].reason == ("ticket SAME appears 25 times in the file (rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, …); "
                                  "keep one") == problems[-1].reason


def test_the_file_size_cap(tmp_path: Path) -> None:
    src = write(tmp_path / "o.csv", HEADER, *(row(i) for i in range(100)))
    with pytest.raises(InputError, match=r"o\.csv is \d+ bytes; the limit is 0 MiB: split it") as err:
        open_hotline(src, limits=Limits(max_bytes=1000))
    assert err.value.template.startswith("{file} is {size} bytes")


def test_the_row_cap(tmp_path: Path) -> None:
    src = write(tmp_path / "o.csv", HEADER, *(row(i) for i in range(101)))
    with pytest.raises(InputError, match="has more than 100 rows; split it into files of at most 100 rows"), \
            check(src, Limits(max_rows=100)):
        pass
    assert validated(write(tmp_path / "p.csv", HEADER, *(row(i) for i in range(100)), "", ""),
                     Limits(max_rows=100))[0] == 100  # blank lines are not rows


def test_problems_listed_are_capped_all_are_counted_and_all_rejected(tmp_path: Path) -> None:
    src = write(tmp_path / "bad.csv", HEADER, *(row(i, cat="0999" if i % 2 else "0101") for i in range(3000)))
    with check(src, Limits(max_listed=10)) as v:
        assert (v.rows, v.problem_count, v.bad_rows) == (3000, 1500, 1500)
        assert [p.row for p in v.problems] == [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]
        assert v.write_rejects(tmp_path / "bad.rejects.csv") == 1500
        assert sum(len(b) for b in v.iter_batches()) == 1500
    with open(tmp_path / "bad.rejects.csv", encoding="utf-8-sig", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 1500


def test_a_bad_last_row_is_found_and_skipped(tmp_path: Path) -> None:
    src = write(tmp_path / "last.jsonl", *(jrow(i) for i in range(20_000)), jrow(20_000, category="01O2"))
    with check(src) as v:
        assert (v.rows, v.bad_rows) == (20_001, 1)
        assert [str(p) for p in v.problems] == [
            "row 20001, category: unknown category '01O2'; did you mean 0102?; see `casecraft workflow show`"]
        assert sum(len(b) for b in v.iter_batches(700)) == 20_000


# --------------------------------------------------------------------------- encodings, line endings, headers


def test_gbk_utf16_and_bom(tmp_path: Path) -> None:
    case_b = "96005-1,96005,2026-11-24T08:31,东高地街道E社区商业街12号,,0102,居民来电：门前摆摊,138****5678"
    with pytest.raises(InputError, match=r"not UTF-8: invalid byte 0x\w\w at line 2.*GBK/GB18030.*iconv") as err:
        open_hotline(write(tmp_path / "gbk.csv", HEADER, case_b, encoding="gbk"))
    assert err.value.details["encoding_error"] is True
    with pytest.raises(InputError, match="is UTF-16 .*iconv -f UTF-16"):
        open_hotline(write(tmp_path / "u16.csv", HEADER, case_b, encoding="utf-16"))
    with pytest.raises(InputError, match="looks like UTF-16"):
        open_hotline(write(tmp_path / "u16le.csv", HEADER, case_b, encoding="utf-16-le"))
    bom = write(tmp_path / "bom.csv", HEADER, case_b, encoding="utf-8-sig")
    assert validated(bom) == (1, [], ["96005-1"])
    jbom = write(tmp_path / "bom.jsonl", jrow(1), encoding="utf-8-sig")
    assert validated(jbom) == (1, [], ["J-000001"])


def test_gbk_far_into_the_file_is_refused_with_its_line(tmp_path: Path) -> None:
    src = tmp_path / "late.csv"
    src.write_bytes(("\n".join([HEADER, *(row(i) for i in range(5000))]) + "\n").encode()
                    + row(5000, desc="门前摆摊").encode("gbk") + b"\n")
    assert src.stat().st_size > 64 * 1024  # past the prefix that open_hotline looks at
    with open_hotline(src) as s, pytest.raises(InputError, match=r"at line 5002 \(offset \d+\); it decodes as GBK"):
        s.validate(categories=CATEGORIES, now=NOW, timezone="Asia/Shanghai")


def test_crlf_line_endings_and_a_quoted_field_over_lines(tmp_path: Path) -> None:
    # as Excel writes it: CRLF between rows, LF inside a cell; a CR inside a cell is a control character
    src = write(tmp_path / "crlf.csv", HEADER, row(1), row(2, desc='"第一行\n第二行"'), row(4, desc='"甲\r\n乙"'),
                row(6, cat="0999"), newline="\r\n")
    with check(src) as v:
        assert [(p.row, p.field) for p in v.problems] == [(5, "description"), (7, "category")]  # 2 lines each
        tickets = [t for b in v.iter_batches() for t in b]
        assert [(t.row, t.description) for t in tickets] == [(2, "第1条"), (3, "第一行\n第二行")]
    jsrc = write(tmp_path / "crlf.jsonl", jrow(1), "", jrow(2), newline="\r\n")
    assert validated(jsrc) == (2, [], ["J-000001", "J-000002"])


def test_chinese_headers_and_header_problems(tmp_path: Path) -> None:
    zh = write(tmp_path / "zh.csv", "工单号,渠道,受理时间,地址,网格编码,事件类别,问题描述,联系方式", row(1))
    assert validated(zh) == (1, [], ["T-000001"])
    with pytest.raises(InputError, match="the header lacks category"):
        open_hotline(write(tmp_path / "h.csv", "ticket,channel,received_at,grid,description"))
    with pytest.raises(InputError, match="is empty; the first line is the header"):
        open_hotline(write(tmp_path / "e.csv", ""))
    with pytest.raises(InputError, match="the header line is longer than 1000 bytes"):
        open_hotline(write(tmp_path / "w.csv", "x" * 2000), limits=Limits(max_row_bytes=1000))
    with pytest.raises(InputError, match="cannot read .*missing.csv"):
        open_hotline(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="cannot read .*: Is a directory"):
        open_hotline(tmp_path)
    os.mkfifo(tmp_path / "fifo.csv")
    with pytest.raises(InputError, match="fifo.csv: not a regular file"):
        open_hotline(tmp_path / "fifo.csv")  # refused, not waited on for a writer


EXPECT = {  # tests/data/bad/hotline/: file -> the (row, field) of each problem, and the good tickets
    "unterminated_quote_then_rows.csv": ([(3, "contact")], ["U-1"]),
    "quote_inside_unquoted_field.csv": ([], ["Q-1", "Q-2"]),
    "lone_cr_in_field.csv": ([(2, "-")], ["C-2"]),
    "crlf_multiline.csv": ([(6, "category")], ["M-1", "M-2"]),
    "ragged_and_blank_rows.csv": ([(3, "-"), (6, "description")], ["R-1", "R-4"]),
    "json_deep_nesting.jsonl": ([(2, "-")], ["D-1", "D-3"]),
    "json_huge_number.jsonl": ([(1, "-")], ["N-2"]),
    "json_line_is_not_an_object.jsonl": ([(1, "-"), (2, "-"), (4, "-")], ["O-3"]),
}


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_hostile_files(name: str) -> None:
    assert {p.name for p in BAD.iterdir()} == set(EXPECT) | {"cr_only_line_endings.csv"}
    rows, problems, good = validated(BAD / name)
    assert ([(p.row, p.field) for p in problems], good) == EXPECT[name], [str(p) for p in problems]


def test_hostile_file_level() -> None:
    with pytest.raises(InputError, match=r"CR only \(old Mac style\)"):
        open_hotline(BAD / "cr_only_line_endings.csv")


def test_what_the_hostile_files_say() -> None:
    said = {n: "; ".join(p.reason for p in validated(BAD / n)[1]) for n in EXPECT}
    assert "has a number of more than 4300 digits" in said["json_huge_number.jsonl"]
    assert "is nested too deeply to read" in said["json_deep_nesting.jsonl"]
    assert "carriage return (CR) inside a field" in said["lone_cr_in_field.csv"]
    assert "has 9 fields, the header has 8" in said["ragged_and_blank_rows.csv"]
    assert "each line must be one JSON object" in said["json_line_is_not_an_object.jsonl"]


# --------------------------------------------------------------------------- reject files


def test_reject_file_is_private_whole_and_never_overwrites(tmp_path: Path) -> None:
    src = write(tmp_path / "o.csv", HEADER, row(1), row(2, cat="0999", desc='"带""引号"",和逗号"'),
                row(3, desc="x" * 2001))
    dest = tmp_path / "o.rejects.csv"
    old = os.umask(0o022)
    try:
        with check(src) as v:
            assert v.write_rejects(dest) == 2
            assert stat.S_IMODE(dest.stat().st_mode) == 0o600
            with pytest.raises(InputError, match="already exists; give another path, or force"):
                v.write_rejects(dest)
            (tmp_path / "live.db").touch()
            for target in (src, tmp_path / "live.db"):
                with pytest.raises(InputError, match="would overwrite"):
                    v.write_rejects(target, force=True, protect=[tmp_path / "live.db"])
            with pytest.raises(InputError, match="is a directory"):
                v.write_rejects(tmp_path, force=True)
            with pytest.raises(InputError, match="cannot write the reject file"):
                v.write_rejects(tmp_path / "no" / "such.csv")
            dest.chmod(0o644)
            assert v.write_rejects(dest, force=True) == 2
            assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.db", "o.csv", "o.rejects.csv"]  # no leftovers
    with open(dest, encoding="utf-8-sig", newline="") as fh:
        rejected = list(csv.DictReader(fh))
    assert [(r["rejected_row"], r["rejected_field"], r["description"]) for r in rejected] == [
        ("3", "category", '带"引号",和逗号'), ("4", "description", "x" * 2001)]
    # fixed and imported again: the reject columns are ignored
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rejected[0]))
        w.writeheader()
        w.writerows([{**rejected[0], "category": "0101"}, {**rejected[1], "description": "短"}])
    assert validated(fixed) == (2, [], ["T-000002", "T-000003"])


def test_jsonl_rejects_keep_the_line_or_the_object(tmp_path: Path) -> None:
    src = write(tmp_path / "o.jsonl", jrow(1), "{broken", jrow(3, category="0999"),
                jrow(4, description="长" * 2_000_000))
    out = tmp_path / "r.jsonl"
    with check(src) as v:
        assert v.write_rejects(out) == 3
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [(x["rejected_row"], x["rejected_field"]) for x in lines] == [(2, "-"), (3, "category"), (4, "-")]
    assert lines[0]["raw_line"] == "{broken" and lines[1]["ticket"] == "J-000003"
    assert lines[2]["raw_line"] is None and "so it was not read" in lines[2]["rejected_reason"]


@pytest.mark.parametrize("kept", [False, True], ids=["read-again", "kept"])
def test_added_problems_skip_their_rows(tmp_path: Path, kept: bool) -> None:
    src = write(tmp_path / "o.csv", HEADER, *(row(i) for i in range(10)))
    with open_hotline(src) as s, s.validate(categories=CATEGORIES, now=NOW, timezone="Asia/Shanghai",
                                            keep=kept) as v:
        passes = v.iter_kept if kept else v.iter_batches
        seen = []
        for batch in passes(3):
            seen += [t.row for t in batch]
            v.add_problems([RowProblem(t.row, "grid", "unknown grid", t.ticket) for t in batch if t.row % 4 == 0])
        assert seen == list(range(2, 12))
        assert (v.problem_count, v.bad_rows) == (2, 2)
        assert [t.row for b in passes(3) for t in b] == [2, 3, 5, 6, 7, 9, 10, 11]
        assert v.write_rejects(tmp_path / "r.csv") == 2


def _as_made(batches: Iterator[list[Ticket]]) -> list[tuple[Ticket, str, object]]:
    """Each ticket with its time as text and its time's zone object: equal times in other zones differ here."""
    return [(t, t.received_at.isoformat(), t.received_at.tzinfo) for b in batches for t in b]


@pytest.mark.parametrize("size", [1, 3, 500])
def test_kept_tickets_are_those_the_file_read_again_makes(tmp_path: Path, size: int) -> None:
    varied = [row(1), " T-2 , 12345 , 2026-11-24T08:00+08:00 , , 110106004005005 ,0102, 前后空格 , 138 ",
              "T-3,96005,2026-11-24T00:05:30.250Z,东高地街道E社区9号楼门前,,0104,\"引号, 逗号\",",
              row(4, cat="0999"), "T-5,12345,2026-11-24T08:39:59.999999,,110106004005005,0103,秒,13900000000",
              row(6, ticket="T-1"), "", row(7, desc="控制\x01字符"), row(8)]
    csv_file = write(tmp_path / "o.csv", HEADER, *varied)
    jsonl = tmp_path / "o.jsonl"
    jsonl.write_text("\n".join([
        json.dumps({"ticket": 123, "channel": 12345, "received_at": "2026-11-24T08:00", "grid": GRID5,
                    "category": "0101", "description": "数字"}),
        json.dumps({"工单号": "J-2", "渠道": "96005", "受理时间": "2026-11-24T07:00:00+00:00", "地址": "某地",
                    "事件类别": "0102", "问题描述": " 中文键 ", "contact": None}, ensure_ascii=False),
        "{broken"]) + "\n", encoding="utf-8")
    for src in (csv_file, jsonl):
        with open_hotline(src) as s, s.validate(categories=CATEGORIES, now=NOW, timezone="Asia/Shanghai",
                                                keep=True) as v:
            again = _as_made(v.iter_batches(size))
            assert again and _as_made(v.iter_kept(size)) == again
            assert [len(b) for b in v.iter_kept(size)] == [len(b) for b in v.iter_batches(size)]


def test_kept_tickets_are_the_ones_checked_whatever_the_file_becomes(tmp_path: Path) -> None:
    src = write(tmp_path / "o.csv", HEADER, row(1), row(2), row(3))
    with open_hotline(src) as s, s.validate(categories=CATEGORIES, now=NOW, timezone="Asia/Shanghai",
                                            keep=True) as v:
        checked = _as_made(v.iter_batches())
        src.write_bytes(src.read_bytes().replace(b",0101,", b",0999,"))
        assert _as_made(v.iter_kept()) == checked and [t.category for t, _, _ in checked] == ["0101"] * 3
    with check(src) as v:
        with pytest.raises(RuntimeError, match="validate with keep=True"):
            next(v.iter_kept())


# --------------------------------------------------------------------------- the index, a changed file, memory


def test_the_index_is_private_and_removed(tmp_path: Path) -> None:
    src = write(tmp_path / "o.csv", HEADER, row(1))
    work = tmp_path / "work"
    work.mkdir()
    with open_hotline(src) as s:
        v = s.validate(categories=CATEGORIES, now=NOW, timezone="Asia/Shanghai", tmp_dir=work)
        (index_dir,) = work.iterdir()
        assert str(index_dir) == v.index_dir and stat.S_IMODE(index_dir.stat().st_mode) == 0o700
        assert {stat.S_IMODE(p.stat().st_mode) for p in index_dir.iterdir()} == {0o600}
        v.close()
    assert list(work.iterdir()) == []


def test_one_pass_at_a_time(tmp_path: Path) -> None:
    src = write(tmp_path / "o.csv", HEADER, row(1), row(2, cat="0999"))
    with check(src) as v:
        batches = v.iter_batches(1)
        next(batches)
        with pytest.raises(RuntimeError, match="one pass over a hotline file at a time"):
            v.write_rejects(tmp_path / "r.csv")
        batches.close()
        assert v.write_rejects(tmp_path / "r.csv") == 1


def test_a_file_changed_between_passes_is_refused(tmp_path: Path) -> None:
    src = write(tmp_path / "o.csv", HEADER, row(1), row(2))
    with check(src) as v:
        with src.open("a", encoding="utf-8") as fh:
            fh.write(row(3) + "\n")
        with pytest.raises(InputError, match="changed while it was being read; import it again"):
            list(v.iter_batches())


def test_a_row_rewritten_in_place_between_passes_is_refused(tmp_path: Path) -> None:
    """Same size, same modification time: the writing pass still sees that a checked row is not the row checked
    (a good row is made a ticket again unchecked only when its cells are those the first pass checked)."""
    import os

    src = write(tmp_path / "o.csv", HEADER, row(1), row(2), row(3))
    with check(src) as v:
        st = src.stat()
        src.write_bytes(src.read_bytes().replace(b",0101,", b",0999,", 1))  # row 1's category, unknown now
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert (src.stat().st_size, src.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
        with pytest.raises(InputError, match="changed while it was being read; import it again"):
            list(v.iter_batches())


@pytest.mark.parametrize("kept", [False, True], ids=["read-again", "kept"])
def test_reading_a_large_file_keeps_python_memory_flat(tmp_path: Path, kept: bool) -> None:
    # long rows make a large file from few rows (tracemalloc makes every allocation slow)
    src = write(tmp_path / "big.csv", HEADER, *(row(i, desc=f"{i}" + "门前摆摊经营" * 250) for i in range(3000)),
                row(3000, cat="0999"))
    size = src.stat().st_size
    import casecraft.workflows.validate  # noqa: F401 - loaded at the first unknown category, once per process
    tracemalloc.start()
    try:
        with open_hotline(src) as s, s.validate(categories=CATEGORIES, now=NOW, timezone="Asia/Shanghai",
                                                keep=kept) as v:
            assert sum(len(b) for b in (v.iter_kept if kept else v.iter_batches)(100)) == 3000
            assert v.write_rejects(tmp_path / "bad.csv") == 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the whole-file reader this replaces held the text, the raw rows and the tickets: over twice the size
    # (kept tickets are held a chunk at a time: 256 tickets of 1,500 characters, 1.1 MB as text)
    assert size > 13 * MIB and peak < (4 if kept else 2) * MIB, (size, peak)
