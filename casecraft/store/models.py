"""The schema, as SQLAlchemy Core tables (one class per table names it: ``Case.__table__``).

Changes go through Alembic only (``migrations/``); a test checks that the
models and the migrations agree. The engine's hot path uses these tables
through SQLAlchemy Core (one select, one update, one or two inserts per
operator action).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from casecraft.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


metadata = MetaData(naming_convention=NAMING)


class _Model:
    """Names one table: ``Model.__table__`` (plain Core tables: the ORM is never imported)."""

    __table__: Table
    metadata = metadata


class WorkflowVersion(_Model):
    """One registered version of a workflow definition (content-hashed)."""

    __table__ = Table(
        "workflow_versions", metadata,
        Column("id", Integer, primary_key=True),
        Column("workflow_id", String(64), nullable=False),
        Column("number", Integer, nullable=False),
        Column("content_hash", String(64), nullable=False),
        Column("spec", Text, nullable=False),
        Column("source_path", Text, nullable=True),
        Column("created_at", UTCDateTime(), nullable=False),
        # who published it (`casecraft workflow publish`); a version comes into force only by publishing
        Column("published_by", String(64), nullable=True),
        UniqueConstraint("workflow_id", "content_hash", name="uq_workflow_versions_hash"),
        UniqueConstraint("workflow_id", "number", name="uq_workflow_versions_number"),
    )


class Unit(_Model):
    """A unit of the organisation: platform (grid … joint meeting), department, area unit."""

    __table__ = Table(
        "units", metadata,
        Column("code", String(64), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("tier", String(32), nullable=True),
        Column("kind", String(16), default="platform", nullable=False),
        Column("parent_code", String(64), index=True, nullable=True),
        Column("active", Boolean, default=True, nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
        # address keywords that route a hotline ticket without a grid code to this unit
        Column("addresses", JSON, nullable=True),
    )


class Person(_Model):
    """A person who acts on cases, with roles, in one unit."""

    __table__ = Table(
        "people", metadata,
        Column("id", String(64), primary_key=True),
        Column("name", String(100), nullable=False),
        Column("unit_code", String(64), index=True, nullable=False),
        Column("roles", JSON, nullable=False),
        Column("note", Text, nullable=True),
        Column("active", Boolean, default=True, nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    )


def _stage_columns() -> list[Column[Any]]:
    """The case row's columns of its running step limit (``stage_<field>``, all nullable)."""
    kinds: dict[str, Any] = {"seq": Integer, "state": String(64), "tier": String(32), "unit_code": String(64),
                             "limit_text": String(64), "calendar": String(64), "started_at": UTCDateTime(),
                             "warn_at": UTCDateTime(), "due_at": UTCDateTime(), "escalate_at": UTCDateTime(),
                             "next_alert_at": UTCDateTime(), "extended": Integer, "closed_at": UTCDateTime(),
                             "outcome": String(16), "provisional": Boolean, "row_id": Integer}
    return [Column(f"stage_{name}", kind, nullable=True) for name, kind in kinds.items()]


class Case(_Model):
    """A case: its current state, tier, unit and assignees; ``version`` guards updates."""

    __table__ = Table(
        "cases", metadata,
        Column("id", Integer, primary_key=True),
        Column("workflow_version_id", Integer, ForeignKey("workflow_versions.id"), nullable=False),
        Column("state", String(64), nullable=False),
        Column("tier", String(32), nullable=False),
        Column("unit_code", String(64), nullable=False),
        Column("grid_code", String(64), nullable=True),
        Column("category_code", String(32), nullable=False),
        Column("urgency", String(32), nullable=False),
        Column("source", String(16), nullable=False),
        Column("ref", String(64), nullable=True),
        Column("description", Text, nullable=False),
        Column("address", Text, nullable=True),
        Column("reporter_id", String(64), nullable=False),
        Column("assignees", JSON, default=list, nullable=False),
        Column("resolved_tier", String(32), nullable=True),
        Column("is_open", Boolean, default=True, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
        Column("closed_at", UTCDateTime(), nullable=True),
        Column("version", Integer, default=1, nullable=False),
        Column("last_hash", String(64), nullable=True),
        Column("deadline_at", UTCDateTime(), nullable=True),  # the whole case's limit
        Column("registered_at", UTCDateTime(), nullable=True),
        Column("parked", Boolean, default=False, nullable=False),
        # hotline work orders: channel (12345/96005), when the hotline received it, caller contact
        Column("channel", String(16), nullable=True),
        Column("received_at", UTCDateTime(), nullable=True),
        Column("contact", String(200), nullable=True),
        # each dispatched party's feedback so far: {party: outcome}
        Column("feedback", JSON(none_as_null=True), nullable=True),
        # a pending extension (延期) request awaiting the leader's approval
        Column("extension_request", JSON(none_as_null=True), nullable=True),
        # since 0006: the step limit running (or paused by 挂账) in the case's current stage, kept on the case row
        # (a step reads and writes the row anyway); written to ``deadlines`` as a whole row when the stage ends.
        # All null when no step limit runs. The fields are DeadlineRow's (records.STAGE_FIELDS), and stage_row_id
        # the id of the deadlines row such a stage had before 0006 (its alerts name it).
        *_stage_columns(),
        Index("ix_cases_unit_open", "unit_code", "state"),
        # the monthly evaluation's case scan reads only these columns: it walks this index in grid order (no
        # sort, a third of the row's width); it also serves every lookup by grid (was ix_cases_grid)
        Index("ix_cases_evaluation", "grid_code", "source", "created_at", "registered_at", "closed_at",
              "deadline_at", "parked", "resolved_tier"),
        Index("ix_cases_created", "created_at"),
        Index("ix_cases_stage_next_alert", "stage_next_alert_at"),  # partial: the sweep's claim
        # partial: due cases, calendar corrections, and the evaluation's scan of running step limits (every
        # column it reads, so a city's month reads no case row for it)
        Index("ix_cases_stage_due", "stage_due_at", "stage_state", "stage_unit_code", "stage_outcome"),
        UniqueConstraint("source", "ref", name="uq_cases_source_ref"),
        CheckConstraint("closed_at IS NULL OR closed_at >= created_at", name="closed_after_created"),
    )


class TimelineEntry(_Model):
    """One append-only step of a case's history, chained by hash."""

    __table__ = Table(
        "timeline", metadata,
        Column("id", Integer, primary_key=True),
        Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("at", UTCDateTime(), index=True, nullable=False),
        Column("actor_id", String(64), nullable=False),
        Column("actor_role", String(32), nullable=True),
        Column("actor_unit", String(64), nullable=True),
        Column("trigger", String(32), nullable=False),
        Column("from_state", String(64), nullable=True),
        Column("to_state", String(64), nullable=False),
        Column("from_tier", String(32), nullable=True),
        Column("to_tier", String(32), nullable=False),
        Column("unit_code", String(64), nullable=False),
        Column("targets", JSON, default=list, nullable=False),
        Column("outcome", String(16), nullable=True),
        Column("note", Text, nullable=True),
        Column("attachments", JSON, default=list, nullable=False),
        Column("prev_hash", String(64), nullable=True),
        Column("hash", String(64), nullable=False),
        # since 0004 (hash version 2): when the writing machine recorded it, the actor's name as it was,
        # the case fields and deadline rows the step set, and an admin's back-fill or entry on behalf
        Column("recorded_at", UTCDateTime(), nullable=True),
        Column("actor_name", String(100), nullable=True),
        Column("facts", JSON(none_as_null=True), nullable=True),
        Column("deadline_facts", JSON(none_as_null=True), nullable=True),
        Column("on_behalf_of", String(64), nullable=True),
        Column("backfill", Boolean, default=False, server_default=false(), nullable=False),
        Column("hv", Integer, default=2, server_default="1", nullable=False),
        UniqueConstraint("case_id", "seq", name="uq_timeline_case_seq"),
    )


class CalendarDay(_Model):
    """One date of the working calendar: workday or holiday, with where that came from."""

    __table__ = Table(
        "calendar_days", metadata,
        Column("day", Date, primary_key=True),
        Column("workday", Boolean, nullable=False),
        Column("source", String(32), nullable=False),
        Column("note", String(100), nullable=True),
        Column("updated_at", UTCDateTime(), nullable=False),
    )


class Deadline(_Model):
    """The time limit of one step of a case (or of the whole case), computed once on entry.

    Since 0006 a step's limit is written here when its stage ends (closed met, late or cancelled): while it
    runs, or is paused, it lives on the case row (``cases.stage_*``), which the sweep claims by
    ``stage_next_alert_at``. The whole case's limit (``kind`` case) is a row here from registration on.
    """

    __table__ = Table(
        "deadlines", metadata,
        Column("id", Integer, primary_key=True),
        Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
        Column("kind", String(8), nullable=False),  # step | case
        Column("seq", Integer, nullable=False),  # the timeline entry that started it
        Column("state", String(64), nullable=False),
        Column("tier", String(32), nullable=False),
        Column("unit_code", String(64), nullable=False),
        Column("limit_text", String(64), nullable=False),
        Column("calendar", String(64), nullable=False),
        Column("started_at", UTCDateTime(), nullable=False),
        Column("warn_at", UTCDateTime(), nullable=True),
        Column("due_at", UTCDateTime(), nullable=False),
        Column("escalate_at", UTCDateTime(), nullable=True),
        Column("next_alert_at", UTCDateTime(), nullable=True),
        Column("extended", Integer, default=0, nullable=False),
        Column("closed_at", UTCDateTime(), nullable=True),
        Column("outcome", String(16), nullable=True),  # met | late | paused | cancelled
        # computed across a day of the provisional calendar (no official arrangement for that year yet)
        Column("provisional", Boolean, default=False, server_default=false(), nullable=False),
        Index("ix_deadlines_next_alert", "next_alert_at"),  # partial: see PARTIAL_INDEXES
        Index("ix_deadlines_case", "case_id"),
        Index("ix_deadlines_open_due", "due_at"),  # partial
        # partial (step limits): the evaluation's verification/check scan, in unit order, every column it reads
        Index("ix_deadlines_steps", "unit_code", "kind", "state", "outcome", "closed_at", "due_at"),
    )


class Alert(_Model):
    """A warning, overdue alert, re-escalation or urge raised at a unit's platform."""

    __table__ = Table(
        "alerts", metadata,
        Column("id", Integer, primary_key=True),
        Column("key", String(100), nullable=False),
        Column("case_id", Integer, ForeignKey("cases.id"), nullable=True),  # None: about the calendar, not a case
        # the deadlines row of the stage it is about: since 0006 set only for a stage opened before 0006 (whose
        # row is written again, with this id, when the stage ends; no foreign key, as it is absent meanwhile);
        # None for a stage opened since, named by the key's case and seq
        Column("deadline_id", Integer, nullable=True),
        Column("kind", String(16), nullable=False),  # warning | overdue | reescalation | urge
        Column("level", Integer, nullable=False),  # 0 own platform, 1 superior, 2 one more tier up
        Column("unit_code", String(64), nullable=False),
        Column("state", String(64), nullable=False),
        Column("due_at", UTCDateTime(), nullable=True),
        Column("raised_at", UTCDateTime(), nullable=False),
        Column("message", Text, nullable=False),
        Column("acked_by", String(64), nullable=True),
        Column("acked_at", UTCDateTime(), nullable=True),
        UniqueConstraint("key", name="uq_alerts_key"),
        Index("ix_alerts_unit_open", "unit_code", "acked_at"),
        Index("ix_alerts_case", "case_id"),
    )


class Delivery(_Model):
    """The outbox: one alert's delivery to one sink (by the sink's name), pending until sent.

    The sweep inserts a pending row per configured sink in the transaction that
    raises the alert; delivery workers claim due rows (``next_attempt_at``)
    under a lease and mark them delivered, or schedule a retry, or give up (dead).
    """

    __table__ = Table(
        "deliveries", metadata,
        Column("id", Integer, primary_key=True),
        Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
        Column("sink", String(200), nullable=False),
        Column("status", String(16), nullable=False),  # pending | delivered | dead
        Column("attempts", Integer, default=0, nullable=False),
        Column("last_error", Text, nullable=True),
        Column("updated_at", UTCDateTime(), nullable=False),
        Column("next_attempt_at", UTCDateTime(), nullable=True),
        Column("leased_until", UTCDateTime(), nullable=True),
        Column("payload", JSON(none_as_null=True), nullable=True),  # what the sink receives
        Column("created_at", UTCDateTime(), nullable=True),
        Column("delivered_at", UTCDateTime(), nullable=True),
        UniqueConstraint("alert_id", "sink", name="uq_deliveries_alert_sink"),
        Index("ix_deliveries_pending", "next_attempt_at"),  # partial
    )


class SentimentLog(_Model):
    """One 民情日志 entry: a grid leader's record of a day's visits and residents' concerns."""

    __table__ = Table(
        "sentiment_logs", metadata,
        Column("id", Integer, primary_key=True),
        Column("grid_code", String(64), nullable=False),
        Column("actor_id", String(64), nullable=False),
        Column("day", Date, nullable=False),  # the local (workflow timezone) date it records
        Column("at", UTCDateTime(), nullable=False),
        Column("text", Text, nullable=False),
        Column("attachments", JSON, default=list, nullable=False),
        Column("recorded_at", UTCDateTime(), nullable=True),
        Column("backfill", Boolean, default=False, server_default=false(), nullable=False),
        Index("ix_sentiment_logs_grid_day", "grid_code", "day"),
    )


class EvaluationRun(_Model):
    """One computed evaluation period (e.g. the monthly run for 2026-11); ``key`` makes it unique."""

    __table__ = Table(
        "evaluation_runs", metadata,
        Column("id", Integer, primary_key=True),
        Column("key", String(64), nullable=False),  # e.g. monthly:2026-11
        Column("period", String(16), nullable=False),  # 2026-11
        Column("workflow_version_id", Integer, ForeignKey("workflow_versions.id"), nullable=True),
        Column("computed_at", UTCDateTime(), nullable=False),
        Column("trigger", String(16), nullable=False),  # scheduler | manual
        UniqueConstraint("key", name="uq_evaluation_runs_key"),
    )


class EvaluationResult(_Model):
    """One unit's figures, score, grade and rank in one evaluation run."""

    __table__ = Table(
        "evaluation_results", metadata,
        Column("id", Integer, primary_key=True),
        Column("run_id", Integer, ForeignKey("evaluation_runs.id"), nullable=False),
        Column("period", String(16), nullable=False),
        Column("level", String(32), nullable=False),  # street | community | grid
        Column("unit_code", String(64), nullable=False),
        Column("parent_code", String(64), nullable=True),
        Column("figures", JSON, nullable=False),  # indicator -> {num, den, value}
        Column("score", Float, nullable=True),
        Column("grade", String(8), nullable=True),
        Column("rank", Integer, nullable=True),
        UniqueConstraint("run_id", "unit_code", name="uq_evaluation_results_run_unit"),
        Index("ix_evaluation_results_unit", "unit_code", "period"),
    )


class LedgerRow(_Model):
    """An append-only, hash-chained entry of a chain other than a case's own timeline.

    Chains: ``admin`` (every administrative act: organisation, calendar,
    credentials, workflow publishing and migration), ``alerts`` (every alert
    raised and acknowledged), ``logs`` (民情日志 entries). The admin chain's
    length is also the administrative revision every process checks to know
    its cached organisation, workflow and calendar are current.
    """

    __table__ = Table(
        "ledger", metadata,
        Column("id", Integer, primary_key=True),
        Column("chain", String(32), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("at", UTCDateTime(), nullable=False),
        Column("recorded_at", UTCDateTime(), nullable=False),
        Column("actor_id", String(64), nullable=False),
        Column("kind", String(32), nullable=False),
        Column("body", JSON, nullable=False),
        Column("prev_hash", String(64), nullable=True),
        Column("hash", String(64), nullable=False),
        UniqueConstraint("chain", "seq", name="uq_ledger_chain_seq"),
    )


class Meta(_Model):
    """Database-wide settings (e.g. ``sandbox``), each change also an admin-chain entry."""

    __table__ = Table(
        "meta", metadata,
        Column("key", String(64), primary_key=True),
        Column("value", JSON, nullable=False),
    )


class StoredFile(_Model):
    """An attachment's normalised bytes, by their SHA-256 (shared by every process and in every backup)."""

    __table__ = Table(
        "files", metadata,
        Column("sha256", String(64), primary_key=True),
        Column("type", String(64), nullable=False),
        Column("size", Integer, nullable=False),
        Column("data", LargeBinary, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
    )


class Credential(_Model):
    """A person's credential: an API token or a web password, stored only as an argon2 hash."""

    __table__ = Table(
        "credentials", metadata,
        Column("id", String(32), primary_key=True),
        Column("person_id", String(64), nullable=False),
        Column("kind", String(16), nullable=False),  # token | password
        Column("secret_hash", Text, nullable=False),
        Column("label", String(100), nullable=True),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("created_by", String(64), nullable=False),
        Column("revoked_at", UTCDateTime(), nullable=True),
        Column("revoked_by", String(64), nullable=True),
        Index("ix_credentials_person", "person_id"),
    )


class OrgHistory(_Model):
    """Effective-dated history of units and people: one row per version of each, never updated but to close it."""

    __table__ = Table(
        "org_history", metadata,
        Column("id", Integer, primary_key=True),
        Column("kind", String(8), nullable=False),  # unit | person
        Column("ref", String(64), nullable=False),
        Column("valid_from", UTCDateTime(), nullable=False),
        Column("valid_to", UTCDateTime(), nullable=True),
        Column("data", JSON, nullable=False),
        Column("admin_seq", Integer, nullable=True),  # the admin-chain entry that made it
        Index("ix_org_history_ref", "kind", "ref", "valid_from"),
    )


# The partial indexes' WHERE clauses. Named as dialect options (postgresql_where=, sqlite_where=) in the
# tables above they would import both dialects' packages whenever this module is imported, a third of
# SQLAlchemy's own import time again; so each engine gives them its dialect's options when it is made.
PARTIAL_INDEXES = {
    "ix_deadlines_next_alert": "closed_at IS NULL AND next_alert_at IS NOT NULL",
    "ix_deadlines_open_due": "closed_at IS NULL",
    "ix_deliveries_pending": "status = 'pending'",
    "ix_deadlines_steps": "kind = 'step'",
    "ix_cases_stage_next_alert": "stage_closed_at IS NULL AND stage_next_alert_at IS NOT NULL",
    "ix_cases_stage_due": "stage_due_at IS NOT NULL",
}


def partial_indexes(dialect: str) -> None:
    """Give the partial indexes their WHERE clause for ``dialect`` (``sqlite`` or ``postgresql``); idempotent."""
    if dialect not in ("sqlite", "postgresql"):
        return
    for table in metadata.tables.values():
        for ix in table.indexes:
            where = PARTIAL_INDEXES.get(str(ix.name))
            if where is not None and ix.dialect_options[dialect].get("where") is None:
                ix.dialect_options[dialect]["where"] = text(where)

