"""Exports of monthly reports: CSV (UTF-8 with BOM, for Excel), XLSX (a sheet per level), PNG ranking chart.

xlsxwriter and matplotlib are imported inside the functions that use them,
so the command line starts fast. Headers, sheet names and chart titles are in
``lang`` (the caller's: the CLI's language, a request's Accept-Language, the
workbench page's), from the message catalogue; the indicators' and levels'
labels are the workflow's own.
"""

from __future__ import annotations

import csv
import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from casecraft import i18n
from casecraft.base.errors import InputError
from casecraft.evaluation.compute import MonthlyReport, UnitRow
from casecraft.i18n import N_

NONE = "—"  # a rate with a zero denominator: neither 0 % nor 100 %
LEVEL_SHEETS = {"street": N_("street"), "community": N_("community"), "grid": N_("grid")}
FRACTION = N_("{label} (numerator/denominator)")


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet or terminal: wide (CJK) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def percent(value: float | None, digits: int = 1) -> str:
    return NONE if value is None else f"{100 * value:.{digits}f}%"


def headers(report: MonthlyReport, lang: str | None = None) -> list[str]:
    """The columns of :func:`text_row`, in ``lang`` (default: the language of this context)."""
    def t(msgid: str) -> str:
        return i18n.gettext(msgid, lang)

    cols = [t(N_("rank")), t(N_("unit code")), t(N_("unit")), t(N_("evaluated by"))]
    for ind in report.indicators:
        cols.append(ind.label)
        if ind.is_rate:
            cols.append(t(FRACTION).format(label=ind.label))
    return cols + [t(N_("score")), t(N_("grade")), t(N_("last month's score")), t(N_("change"))]


def _fraction(fig: dict[str, Any]) -> str:
    return f"{fig['num']}/{fig['den']}"


def _score(value: float | None) -> str:
    return NONE if value is None else f"{value:.2f}"


def _change(value: float | None) -> str:
    return NONE if value is None else f"{value:+.2f}"


USER_TEXT_COLUMNS = (1, 2, 3, -3)  # in text_row: unit code, unit name, group name; the grade


def text_row(report: MonthlyReport, row: UnitRow) -> list[str]:
    """One row as text, in the order of :func:`headers`."""
    out = [str(row.rank) if row.rank is not None else NONE, row.unit, row.name, row.group_name]
    for ind in report.indicators:
        fig = row.figures[ind.id]
        if ind.is_rate:
            out += [percent(fig["value"]), _fraction(fig)]
        else:
            out.append(str(fig["value"]))
    return out + [_score(row.score), row.grade or NONE, _score(row.previous_score), _change(row.change)]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """A text cell for a CSV file that a spreadsheet will not run as a formula.

    A cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
    leading ``'`` (OWASP, CSV injection): Excel and LibreOffice then show the text
    as written. Apply it to text that came from users or files, not to numbers
    this module formats (a change of ``-0.50`` stays a number).
    """
    return "'" + text if text.startswith(FORMULA_START) else text


def _open(path: str | os.PathLike[str], mode: str = "w") -> Any:
    p = Path(path)
    if not p.parent.is_dir():
        raise InputError("cannot write {file!r}: folder {folder!r} does not exist", file=str(p), folder=str(p.parent))
    try:
        return open(p, mode, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError("cannot write {file!r}: {reason}", file=str(p), reason=exc.strerror) from None


def write_csv(report: MonthlyReport, path: str | os.PathLike[str], lang: str | None = None) -> Path:
    """The ranking as CSV (UTF-8 with BOM, so Excel shows Chinese headers), headers in ``lang``."""
    with _open(path) as fh:
        w = csv.writer(fh)
        first = [i18n.gettext(N_("month"), lang), i18n.gettext(N_("level"), lang)]
        w.writerow([csv_cell(c) for c in [*first, *headers(report, lang)]])
        for row in report.rows:
            cells = text_row(report, row)
            for j in USER_TEXT_COLUMNS:  # names from the organisation file, grades from the workflow file
                cells[j] = csv_cell(cells[j])
            w.writerow([report.month, csv_cell(report.level_label), *cells])
    return Path(path)


def write_xlsx(reports: Sequence[MonthlyReport], path: str | os.PathLike[str], lang: str | None = None) -> Path:
    """A workbook with a sheet per level: headers and sheet names in ``lang``, frozen header row, widths fit for
    Chinese, rates as percentages (a zero denominator shows "—")."""
    import xlsxwriter

    p = Path(path)
    if not p.parent.is_dir():
        raise InputError("cannot write {file!r}: folder {folder!r} does not exist", file=str(p), folder=str(p.parent))
    wb = xlsxwriter.Workbook(str(p))
    try:
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                              "valign": "vcenter"})
        pct = wb.add_format({"num_format": "0.0%"})
        num = wb.add_format({"num_format": "0.00"})
        signed = wb.add_format({"num_format": "+0.00;-0.00;0.00"})
        centre = wb.add_format({"align": "center"})
        for report in reports:
            sheet = LEVEL_SHEETS.get(report.level)
            ws = wb.add_worksheet(i18n.gettext(sheet, lang) if sheet else report.level)
            cols = headers(report, lang)
            widths = [display_width(c) for c in cols]
            for j, c in enumerate(cols):
                ws.write_string(0, j, c, head)
            for i, row in enumerate(report.rows, start=1):
                cells: list[tuple[Any, Any]] = [(row.rank, None), (row.unit, None), (row.name, None),
                                                 (row.group_name, None)]
                for ind in report.indicators:
                    fig = row.figures[ind.id]
                    cells += [(fig["value"], pct), (_fraction(fig), None)] if ind.is_rate else [(fig["value"], None)]
                cells += [(row.score, num), (row.grade, None), (row.previous_score, num), (row.change, signed)]
                for j, ((value, fmt), shown) in enumerate(zip(cells, text_row(report, row), strict=True)):
                    if value is None:
                        ws.write_string(i, j, NONE, centre)
                    elif isinstance(value, str):
                        ws.write_string(i, j, value, fmt)
                    else:
                        ws.write_number(i, j, value, fmt)
                    widths[j] = max(widths[j], display_width(shown))
            for j, w in enumerate(widths):
                ws.set_column(j, j, min(max(w + 2, 6), 60))
            ws.freeze_panes(1, 0)
            ws.set_row(0, 30)
            ws.autofilter(0, 0, max(len(report.rows), 1), len(cols) - 1)
    finally:
        wb.close()
    return p


GRADE_COLOURS = {"A": "#2E7D32", "B": "#558B2F", "C": "#F9A825", "D": "#EF6C00", "E": "#C62828"}


def write_png(report: MonthlyReport, path: str | os.PathLike[str], lang: str | None = None) -> Path:
    """A horizontal bar chart of the ranking (score per unit), titles in ``lang``, drawn in a CJK font (unit
    names are Chinese in every language).

    Raises:
        InputError: no CJK font is installed (see :func:`casecraft.fonts.cjk_font`), or the file cannot be written.
    """
    from matplotlib import font_manager, rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from casecraft.fonts import cjk_font

    p = Path(path)
    if not p.parent.is_dir():
        raise InputError("cannot write {file!r}: folder {folder!r} does not exist", file=str(p), folder=str(p.parent))
    font = str(cjk_font())
    font_manager.fontManager.addfont(font)
    family = font_manager.FontProperties(fname=font).get_name()
    rows = [r for r in report.rows if r.score is not None]
    rows.sort(key=lambda r: (r.score or 0.0), reverse=False)  # barh draws bottom-up: best on top
    height = max(2.5, 0.45 * len(rows) + 1.5)
    with rc_context({"font.family": [family], "font.sans-serif": [family], "axes.unicode_minus": False}):
        fig = Figure(figsize=(9, height), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        place = i18n.gettext(N_("{name} no. {rank}"), lang)
        labels = [place.format(name=r.name, rank=r.rank) for r in rows]
        colours = [GRADE_COLOURS.get(r.grade or "", "#607D8B") for r in rows]
        bars = ax.barh(range(len(rows)), [r.score or 0.0 for r in rows], color=colours)  # every row here has a score
        ax.set_yticks(range(len(rows)), labels)
        ax.set_xlim(0, 105)
        ax.set_xlabel(i18n.gettext(N_("overall score"), lang))
        title = i18n.gettext(N_("{month} {level} ranking"), lang).format(month=report.month, level=report.level_label)
        if report.org:
            title += ("（{org}）" if i18n.is_chinese(lang) else " ({org})").format(org=report.org)
        ax.set_title(title)
        for bar, r in zip(bars, rows, strict=True):
            ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, f"{r.score:.1f} {r.grade or ''}",
                    va="center", fontsize=9)
        if not rows:
            ax.text(52, 0.5, i18n.gettext(N_("no unit has a score this month"), lang), ha="center", va="center")
            ax.set_yticks([])
        fig.tight_layout()
        try:
            fig.savefig(p, format="png")
        except OSError as exc:
            raise InputError("cannot write {file!r}: {reason}", file=str(p), reason=exc.strerror) from None
    return p
