"""The schema, as SQLAlchemy 2 typed models.

Changes go through Alembic only (``migrations/``); a test checks that the
models and the migrations agree. The engine's hot path uses these tables
through SQLAlchemy Core (one select, one update, one or two inserts per
operator action).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from casecraft.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class WorkflowVersion(Base):
    """One registered version of a workflow definition (content-hashed)."""

    __tablename__ = "workflow_versions"
    __table_args__ = (
        UniqueConstraint("workflow_id", "content_hash", name="uq_workflow_versions_hash"),
        UniqueConstraint("workflow_id", "number", name="uq_workflow_versions_number"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    spec: Mapped[str] = mapped_column(Text)
    source_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # who published it (`casecraft workflow publish`); a version comes into force only by publishing
    published_by: Mapped[str | None] = mapped_column(String(64))


class Unit(Base):
    """A unit of the organisation: platform (grid … joint meeting), department, area unit."""

    __tablename__ = "units"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="platform")
    parent_code: Mapped[str | None] = mapped_column(String(64), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # address keywords that route a hotline ticket without a grid code to this unit
    addresses: Mapped[list[str] | None] = mapped_column(JSON)


class Person(Base):
    """A person who acts on cases, with roles, in one unit."""

    __tablename__ = "people"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    unit_code: Mapped[str] = mapped_column(String(64), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Case(Base):
    """A case: its current state, tier, unit and assignees; ``version`` guards updates."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_unit_open", "unit_code", "state"),
        Index("ix_cases_grid", "grid_code"),
        Index("ix_cases_created", "created_at"),
        UniqueConstraint("source", "ref", name="uq_cases_source_ref"),
        CheckConstraint("closed_at IS NULL OR closed_at >= created_at", name="closed_after_created"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_version_id: Mapped[int] = mapped_column(ForeignKey("workflow_versions.id"))
    state: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(32))
    unit_code: Mapped[str] = mapped_column(String(64))
    grid_code: Mapped[str | None] = mapped_column(String(64))
    category_code: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    reporter_id: Mapped[str] = mapped_column(String(64))
    assignees: Mapped[list[str]] = mapped_column(JSON, default=list)
    resolved_tier: Mapped[str | None] = mapped_column(String(32))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    last_hash: Mapped[str | None] = mapped_column(String(64))
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the whole case's limit
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    parked: Mapped[bool] = mapped_column(Boolean, default=False)
    # hotline work orders: channel (12345/96005), when the hotline received it, caller contact
    channel: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contact: Mapped[str | None] = mapped_column(String(200))
    # each dispatched party's feedback so far: {party: outcome}
    feedback: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))
    # a pending extension (延期) request awaiting the leader's approval
    extension_request: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class TimelineEntry(Base):
    """One append-only step of a case's history, chained by hash."""

    __tablename__ = "timeline"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_timeline_case_seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    actor_unit: Mapped[str | None] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str] = mapped_column(String(64))
    from_tier: Mapped[str | None] = mapped_column(String(32))
    to_tier: Mapped[str] = mapped_column(String(32))
    unit_code: Mapped[str] = mapped_column(String(64))
    targets: Mapped[list[str]] = mapped_column(JSON, default=list)
    outcome: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # since 0004 (hash version 2): when the writing machine recorded it, the actor's name as it was,
    # the case fields and deadline rows the step set, and an admin's back-fill or entry on behalf
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    actor_name: Mapped[str | None] = mapped_column(String(100))
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    deadline_facts: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    on_behalf_of: Mapped[str | None] = mapped_column(String(64))
    backfill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    hv: Mapped[int] = mapped_column(Integer, default=2, server_default="1")


class CalendarDay(Base):
    """One date of the working calendar: workday or holiday, with where that came from."""

    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Deadline(Base):
    """The time limit of one step of a case (or of the whole case), computed once on entry.

    ``next_alert_at`` is the earliest alert still to raise (warning, overdue,
    re-escalation); the sweep claims rows by it through a partial index on
    open deadlines.
    """

    __tablename__ = "deadlines"
    __table_args__ = (
        Index("ix_deadlines_next_alert", "next_alert_at",
              postgresql_where=text("closed_at IS NULL AND next_alert_at IS NOT NULL"),
              sqlite_where=text("closed_at IS NULL AND next_alert_at IS NOT NULL")),
        Index("ix_deadlines_case", "case_id"),
        Index("ix_deadlines_open_due", "due_at",
              postgresql_where=text("closed_at IS NULL"), sqlite_where=text("closed_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(8))  # step | case
    seq: Mapped[int] = mapped_column(Integer)  # the timeline entry that started it
    state: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(32))
    unit_code: Mapped[str] = mapped_column(String(64))
    limit_text: Mapped[str] = mapped_column(String(64))
    calendar: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extended: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))  # met | late | paused | cancelled
    # computed across a day of the provisional calendar (no official arrangement for that year yet)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Alert(Base):
    """A warning, overdue alert, re-escalation or urge raised at a unit's platform."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("key", name="uq_alerts_key"),
        Index("ix_alerts_unit_open", "unit_code", "acked_at"),
        Index("ix_alerts_case", "case_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))  # None: about the calendar, not a case
    deadline_id: Mapped[int | None] = mapped_column(ForeignKey("deadlines.id"))
    kind: Mapped[str] = mapped_column(String(16))  # warning | overdue | reescalation | urge
    level: Mapped[int] = mapped_column(Integer)  # 0 own platform, 1 superior, 2 one more tier up
    unit_code: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    message: Mapped[str] = mapped_column(Text)
    acked_by: Mapped[str | None] = mapped_column(String(64))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Delivery(Base):
    """The outbox: one alert's delivery to one sink (by the sink's name), pending until sent.

    The sweep inserts a pending row per configured sink in the transaction that
    raises the alert; delivery workers claim due rows (``next_attempt_at``)
    under a lease and mark them delivered, or schedule a retry, or give up (dead).
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "sink", name="uq_deliveries_alert_sink"),
        Index("ix_deliveries_pending", "next_attempt_at",
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    sink: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # what the sink receives
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SentimentLog(Base):
    """One 民情日志 entry: a grid leader's record of a day's visits and residents' concerns."""

    __tablename__ = "sentiment_logs"
    __table_args__ = (Index("ix_sentiment_logs_grid_day", "grid_code", "day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)  # the local (workflow timezone) date it records
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    backfill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class EvaluationRun(Base):
    """One computed evaluation period (e.g. the monthly run for 2026-11); ``key`` makes it unique."""

    __tablename__ = "evaluation_runs"
    __table_args__ = (UniqueConstraint("key", name="uq_evaluation_runs_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))  # e.g. monthly:2026-11
    period: Mapped[str] = mapped_column(String(16))  # 2026-11
    workflow_version_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_versions.id"))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trigger: Mapped[str] = mapped_column(String(16))  # scheduler | manual


class EvaluationResult(Base):
    """One unit's figures, score, grade and rank in one evaluation run."""

    __tablename__ = "evaluation_results"
    __table_args__ = (
        UniqueConstraint("run_id", "unit_code", name="uq_evaluation_results_run_unit"),
        Index("ix_evaluation_results_unit", "unit_code", "period"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id"))
    period: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(32))  # street | community | grid
    unit_code: Mapped[str] = mapped_column(String(64))
    parent_code: Mapped[str | None] = mapped_column(String(64))
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)  # indicator -> {num, den, value}
    score: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[str | None] = mapped_column(String(8))
    rank: Mapped[int | None] = mapped_column(Integer)


class LedgerRow(Base):
    """An append-only, hash-chained entry of a chain other than a case's own timeline.

    Chains: ``admin`` (every administrative act: organisation, calendar,
    credentials, workflow publishing and migration), ``alerts`` (every alert
    raised and acknowledged), ``logs`` (民情日志 entries). The admin chain's
    length is also the administrative revision every process checks to know
    its cached organisation, workflow and calendar are current.
    """

    __tablename__ = "ledger"
    __table_args__ = (UniqueConstraint("chain", "seq", name="uq_ledger_chain_seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Meta(Base):
    """Database-wide settings (e.g. ``sandbox``), each change also an admin-chain entry."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class StoredFile(Base):
    """An attachment's normalised bytes, by their SHA-256 (shared by every process and in every backup)."""

    __tablename__ = "files"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Credential(Base):
    """A person's credential: an API token or a web password, stored only as an argon2 hash."""

    __tablename__ = "credentials"
    __table_args__ = (Index("ix_credentials_person", "person_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # token | password
    secret_hash: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class OrgHistory(Base):
    """Effective-dated history of units and people: one row per version of each, never updated but to close it."""

    __tablename__ = "org_history"
    __table_args__ = (Index("ix_org_history_ref", "kind", "ref", "valid_from"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # unit | person
    ref: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    admin_seq: Mapped[int | None] = mapped_column(Integer)  # the admin-chain entry that made it


metadata = Base.metadata
