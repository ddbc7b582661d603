"""Monthly evaluation (绩效考评): the ten indicators, scores, grades, ranks, recorded runs and exports.

The counts come from SQL (GROUP BY over cases, deadlines, sentiment logs and
the working calendar); scoring is configuration (``evaluation:`` in
workflows.yaml). Definitions and a worked example: docs/indicators.md.

    from casecraft.evaluation import monthly_report
    report = monthly_report(engine, "2026-11", level="grid")
"""

from casecraft.evaluation.compute import MonthlyReport, UnitRow
from casecraft.evaluation.period import Period, month_period, previous_month
from casecraft.evaluation.runs import (
    HistoryRow,
    RunView,
    case_stats,
    history,
    monthly_report,
    monthly_reports,
    record_due,
    record_month,
)
from casecraft.evaluation.scoring import INDICATORS, IndicatorSpec, Scheme

__all__ = ["INDICATORS", "HistoryRow", "IndicatorSpec", "MonthlyReport", "Period", "RunView", "Scheme", "UnitRow",
           "case_stats", "history", "month_period", "monthly_report", "monthly_reports", "previous_month", "record_due",
           "record_month"]
