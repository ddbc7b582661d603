"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC on every backend.

    SQLite returns ``DateTime(timezone=True)`` values naive and unconverted;
    this type converts to UTC on the way in and re-attaches UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    # On SQLite the value is text: SQLAlchemy's DATETIME writes it with %-formatting of a dict of its
    # fields and reads it with a regular expression, then the methods above convert the zone. One C call
    # each way gives the same text and the same value (tests/test_direct_statements.py compares them).
    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is UTC:  # most times: the text without its "+00:00" (one C call, not three)
                return value.isoformat(" ", "microseconds")[:-6]
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column; attach a timezone")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            if len(value) == 26 and value[19] == ".":  # as written above: parsed with its zone, not replaced after
                try:
                    return datetime.fromisoformat(value + "+00:00")
                except ValueError:  # not that form after all (a zone of its own): read as below
                    pass
            got = datetime.fromisoformat(value)
            return got.replace(tzinfo=UTC) if got.tzinfo is None else got.astimezone(UTC)

        return process
