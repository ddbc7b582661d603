"""Backup and restore: every table as JSON Lines, restored into an empty database in one transaction.

The file is one JSON object per line:

* a header: ``{"casecraft_backup": 1, "schema": "0003", "dialect": ..., "exported_at": ..., "tables": [...]}``;
* one line per row, parents before children: ``{"table": "cases", "row": {...}}`` (plus
  ``"json_null": [...]`` naming nullable JSON columns that hold a JSON ``null``
  rather than SQL NULL);
* a trailer: ``{"end": {"rows": {table: count}, "sha256": ...}}``, the SHA-256 of
  every line before it, so a truncated or edited file is refused.

Timestamps are ISO 8601 in UTC with their offset; dates are ISO dates. The
same file restores on SQLite or PostgreSQL (moving a deployment between them);
ids are kept, and PostgreSQL's id sequences are moved past them. Attachment
files (``casecraft-data/``) are not in the database: copy that folder too.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casecraft.base.errors import InputError, RuleError, render
from casecraft.i18n import N_

if TYPE_CHECKING:
    from casecraft.context import EngineView as Engine

FORMAT = 1


@dataclass(frozen=True)
class BackupResult:
    """What an export or a restore did: the file and the rows per table."""

    path: str
    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path, "rows": self.rows, "total": self.total}


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        import base64

        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"


def _redacted(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row with citizens' contacts masked (the case column and the facts its timeline committed to)."""
    from casecraft.base.views import mask_contact

    if table == "cases" and row.get("contact"):
        return {**row, "contact": mask_contact(row["contact"])}
    if table == "timeline" and isinstance(row.get("facts"), dict) and row["facts"].get("contact"):
        return {**row, "facts": {**row["facts"], "contact": mask_contact(row["facts"]["contact"])}}
    return row


def export(engine: Engine, path: str | os.PathLike[str], *, key: bytes | None = None,
           redact: bool = False) -> BackupResult:
    """Write every row of every table to ``path`` (JSON Lines) from one consistent snapshot.

    The file is written beside its destination and renamed into place, so a crash
    never leaves a half-written backup under the final name. With ``key`` (the seal
    key, :mod:`casecraft.audit.seal`) the end line is signed: an edited file, even
    with its checksum recomputed, is refused on restore.

    With ``redact`` citizens' contacts are masked (``138****5678``): a file to hand to
    someone who may not see them. Its histories no longer match their hashes, so it
    is marked as redacted and never restored.

    Raises:
        InputError: the file cannot be written.
    """
    from casecraft.store import dump
    from casecraft.store.db import HEAD

    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # personal data: the owner's only
        with open(fd, "w", encoding="utf-8", newline="\n") as fh:
            def put(obj: Any) -> None:
                text = _line(obj)
                digest.update(text.encode("utf-8"))
                fh.write(text)

            with dump.snapshot_connection(engine.store) as conn:
                tables = dump.tables()
                header: dict[str, Any] = {"casecraft_backup": FORMAT, "schema": HEAD, "dialect": engine.store.dialect,
                                          "exported_at": _encode(engine.now()), "tables": [t.name for t in tables]}
                if redact:
                    header["redacted"] = True
                put(header)
                for t in tables:
                    counts[t.name] = 0
                    for row, json_nulls in dump.iter_rows(conn, t):
                        if redact:
                            row = _redacted(t.name, row)
                        item: dict[str, Any] = {"table": t.name, "row": {k: _encode(v) for k, v in row.items()}}
                        if json_nulls:
                            item["json_null"] = json_nulls
                        put(item)
                        counts[t.name] += 1
            end: dict[str, Any] = {"rows": counts, "sha256": digest.hexdigest()}
            if key is not None:
                import hmac

                end["hmac_sha256"] = hmac.new(key, digest.hexdigest().encode(), hashlib.sha256).hexdigest()
            fh.write(_line({"end": end}))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError("cannot write the backup {file!r}: {reason}", file=str(target),
                         reason=str(exc.strerror or exc)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return BackupResult(str(target), counts)


class _Reader:
    """Parses and checks a backup file line by line, for :func:`dump.restore` to consume."""

    def __init__(self, path: Path, key: bytes | None = None) -> None:
        from casecraft.store import dump

        self.path = path
        self.key = key
        self.kinds = {t.name: dump.column_kinds(t) for t in dump.tables()}
        self.order = [t.name for t in dump.tables()]
        self.counts: dict[str, int] = {}

    def fail(self, lineno: int, message: str) -> InputError:
        return InputError("{file}:{line}: {reason}; nothing was imported", file=str(self.path), line=lineno,
                          reason=message)

    def rows(self) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        from casecraft.store.db import SAME_ROWS

        digest = hashlib.sha256()
        lineno = 0
        end: dict[str, Any] | None = None
        position = 0  # index into self.order: rows must come parents first
        try:
            fh = open(self.path, "rb")
        except OSError as exc:
            raise InputError("cannot read the backup {file!r}: {reason}", file=str(self.path),
                             reason=str(exc.strerror or exc)) from None
        with fh:
            for raw in fh:
                lineno += 1
                if end is not None:
                    raise self.fail(lineno, N_("text after the end line"))
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    raise self.fail(lineno, N_("not a JSON line of a casecraft backup")) from None
                if not isinstance(obj, dict):
                    raise self.fail(lineno, N_("not a JSON object"))
                if lineno == 1:
                    if obj.get("casecraft_backup") != FORMAT:
                        raise self.fail(1, N_("not a casecraft backup (no header line)"))
                    if obj.get("redacted"):
                        raise self.fail(1, N_("a redacted export (contacts masked, `export --redact`) is for reading, "
                                              "not for restoring; restore a full export"))
                    if obj.get("schema") not in SAME_ROWS:
                        raise self.fail(1, render("the backup has schema {schema!r}; this casecraft restores schema "
                                                  "{head} only (restore with the matching version)",
                                                  {"schema": obj.get("schema"), "head": ", ".join(SAME_ROWS)}))
                    digest.update(raw)
                    continue
                if "end" in obj:
                    end = obj["end"]
                    continue
                digest.update(raw)
                name, values, json_nulls = self._row(lineno, obj)
                if name not in self.order[position:]:
                    raise self.fail(lineno, render("rows of {table} come after rows of its dependants",
                                                   {"table": name}))
                position = self.order.index(name)
                self.counts[name] = self.counts.get(name, 0) + 1
                yield name, values, json_nulls
        if lineno == 0:
            raise InputError("{file}: the file is empty; nothing was imported", file=str(self.path))
        if end is None or not isinstance(end, dict):
            raise self.fail(lineno, N_("the file ends without its end line (truncated?)"))
        signature = end.get("hmac_sha256")
        if self.key is not None:
            import hmac

            want = hmac.new(self.key, digest.hexdigest().encode(), hashlib.sha256).hexdigest()
            if signature is None:  # an export made without --key-file: refused as unsigned, not as a wrong key
                raise self.fail(lineno, N_("the backup is not signed, but a key was given: a signed backup was "
                                           "expected (restore it without --key-file only if you trust the file)"))
            if not isinstance(signature, str) or not hmac.compare_digest(want, signature):
                raise self.fail(lineno, N_("the backup is not signed with this key (a wrong key, or a changed file)"))
        elif signature is not None:
            raise self.fail(lineno, N_("the backup is signed: give its key (--key-file) to restore it"))
        if end.get("sha256") != digest.hexdigest():
            raise self.fail(lineno, N_("the checksum does not match: the file was changed or damaged"))
        expected = {k: v for k, v in (end.get("rows") or {}).items() if v}
        if expected != {k: v for k, v in self.counts.items() if v}:
            raise self.fail(lineno, N_("the row counts do not match the end line"))

    def _row(self, lineno: int, obj: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
        name = obj.get("table")
        row = obj.get("row")
        if not isinstance(name, str) or name not in self.kinds:
            raise self.fail(lineno, render("unknown table {table!r}", {"table": name}))
        if not isinstance(row, dict):
            raise self.fail(lineno, N_("a row line needs a 'row' object"))
        kinds = self.kinds[name]
        unknown = sorted(set(row) - set(kinds))
        if unknown:
            raise self.fail(lineno, render("unknown column(s) of {table}: {columns}",
                                           {"table": name, "columns": ", ".join(unknown)}))
        values: dict[str, Any] = {}
        for col, kind in kinds.items():
            v = row.get(col)
            if v is not None and kind == "datetime":
                try:
                    v = datetime.fromisoformat(v)
                except (TypeError, ValueError):
                    raise self.fail(lineno, render("{table}.{column}: bad timestamp {value!r}",
                                                   {"table": name, "column": col, "value": v})) from None
                if v.tzinfo is None:
                    raise self.fail(lineno, render("{table}.{column}: timestamp {value!r} has no offset",
                                                   {"table": name, "column": col, "value": row[col]}))
                v = v.astimezone(UTC)
            elif v is not None and kind == "date":
                try:
                    v = date.fromisoformat(v)
                except (TypeError, ValueError):
                    raise self.fail(lineno, render("{table}.{column}: bad date {value!r}",
                                                   {"table": name, "column": col, "value": v})) from None
            elif v is not None and kind == "bytes":
                import base64
                import binascii

                try:
                    v = base64.b64decode(v, validate=True)
                except (TypeError, ValueError, binascii.Error):
                    raise self.fail(lineno, render("{table}.{column}: bad base64 data",
                                                   {"table": name, "column": col})) from None
            values[col] = v
        json_nulls = obj.get("json_null") or []
        if not isinstance(json_nulls, list):
            raise self.fail(lineno, N_("'json_null' must be a list of column names"))
        return name, values, [c for c in json_nulls if isinstance(c, str)]


def import_backup(engine: Engine, path: str | os.PathLike[str], *, key: bytes | None = None) -> BackupResult:
    """Restore a backup into an empty database: every row, in one transaction, or nothing.

    Before the transaction commits, every chain of what was restored is verified
    (:func:`casecraft.audit.verify.verify_tx`): a backup whose histories were
    edited is refused whole. A signed backup needs its key; with a key, an
    unsigned or wrongly signed one is refused.

    Raises:
        RuleError: the database already holds rows, or the restored chains do not verify (nothing is written).
        InputError: the file is not a complete, unchanged casecraft backup of this
            schema, or its rows do not fit (nothing is written).
    """
    from casecraft.store import dump
    from casecraft.store.db import safe_url

    reader = _Reader(Path(path), key)
    if not reader.path.is_file():
        raise InputError("no backup file {file!r}", file=str(reader.path))
    try:
        counts = dump.restore(engine.store, reader.rows(), check=_chains_intact)
    except dump.NotEmpty as exc:
        raise RuleError("the database {db} is not empty ({reason}); import a backup only into a new, empty database; "
                        "nothing was imported", db=safe_url(str(engine.store.engine.url)), reason=exc.reason) from None
    except dump.RowRefused as exc:
        raise InputError("{file}: the database refused a row ({reason}); nothing was imported", file=str(reader.path),
                         reason=exc.reason) from None
    engine.ctx.refresh_now()  # everything was just written underneath the engine's caches
    return BackupResult(str(reader.path), {k: v for k, v in counts.items()})


def _chains_intact(tx: Any) -> None:
    from casecraft.audit.verify import verify_tx

    report = verify_tx(tx)
    if not report.ok:
        shown = "; ".join(f.message for f in report.findings[:5])
        raise RuleError("the backup's histories do not verify ({count} problem(s): {shown}); nothing was imported",
                        count=len(report.findings), shown=shown)


__all__ = ["BackupResult", "export", "import_backup"]
