"""Request bodies: JSON, or ``multipart/form-data`` when photos come along.

Each action's body is one pydantic model (documented in the OpenAPI document
for both content types). A body never names who acts: unknown fields, an
``actor`` among them, are refused. Uploaded photos are streamed to a private
temporary directory (0700) under their cleaned names, each capped at the
library's attachment limit, handed to the engine as paths (the engine checks
and stores them in the step's own transaction) and removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import UploadFile
from starlette.requests import Request

from casecraft.attachments import MAX_BYTES, MAX_PER_STEP, clean_name
from casecraft.base.errors import CasecraftError, InputError

M = TypeVar("M", bound=BaseModel)
PHOTO_FIELD = "photos"
CHUNK = 1 << 16


class Malformed(CasecraftError):
    """The body is not what its Content-Type says (HTTP 400)."""

    code = "malformed"
    exit_code = 2


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportIn(Body):
    """A new case (the reporter is the authenticated person)."""

    source: str = Field(description="patrol | informant | hotline | order")
    grid: str = Field(description="Grid code (15 digits).")
    category: str = Field(description="Event catalogue code, e.g. 0101.")
    desc: str = Field(description="What was found or reported.")
    ref: str | None = Field(None, description="Hotline ticket number.")
    address: str | None = None
    urgency: str | None = Field(None, description="Override the category's urgency.")
    note: str | None = Field(None, description="A note for the timeline.")


class FireIn(Body):
    """The inputs of a trigger."""

    note: str | None = Field(None, description="Reason or record of what was done.")
    to: list[str] = Field(default_factory=list, description="Target units or persons.")
    outcome: str | None = Field(None, description="solved | unsolved (for feedback).")
    expected_version: int | None = Field(None, description="Refuse (409) if the case is no longer at this version.")

    @field_validator("expected_version", mode="before")
    @classmethod
    def _not_a_truth_value(cls, value: Any) -> Any:
        if isinstance(value, bool):  # JSON true is not version 1
            raise ValueError("give the case's version number, not true or false")
        return value


class NoteIn(Body):
    note: str


class OptionalNoteIn(Body):
    note: str | None = None


class ExtensionIn(Body):
    by: str = Field(description="How much longer, e.g. '1 working day', '4 working hours'.")
    note: str


class LogIn(Body):
    """A 民情日志 entry for today (the keeper is the authenticated person)."""

    grid: str
    text: str


class SearchIn(Body):
    """Case filters with an explicit id list (too long for a query string)."""

    ids: list[int] | None = None
    state: str | None = None
    tier: str | None = None
    org: str | None = None
    open: bool | None = None
    parked: bool | None = None
    category: str | None = None
    source: str | None = None
    sort: str = "id"
    limit: int = 200
    offset: int = 0


def body_doc(model: type[BaseModel], *, files: bool) -> dict[str, Any]:
    """``openapi_extra`` documenting a body as JSON and, with photos, as multipart/form-data."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    content: dict[str, Any] = {"application/json": {"schema": ref}}
    if files:
        content["multipart/form-data"] = {"schema": {"allOf": [ref, {"type": "object", "properties": {
            PHOTO_FIELD: {"type": "array", "items": {"type": "string", "format": "binary"},
                          "description": f"Images or PDF, at most {MAX_PER_STEP}, each up to "
                                         f"{MAX_BYTES // (1024 * 1024)} MiB."}}}]}}
    return {"requestBody": {"required": True, "content": content}}


def invalid(exc: ValidationError) -> InputError:
    """A pydantic validation error as the library's InputError, naming every offending field."""
    problems = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"]) or "body"
        problems.append(f"{where}: {e['msg']}")
    return InputError("invalid request body: {problems}", problems="; ".join(problems))


def _list_fields(model: type[BaseModel]) -> set[str]:
    out = set()
    for name, f in model.model_fields.items():
        text = str(f.annotation)
        if text.startswith("list[") or "list[" in text:
            out.add(name)
    return out


async def save_upload(upload: UploadFile, directory: Path, index: int) -> str:
    """Stream one uploaded file to ``directory/index/NAME`` (folder 0700, file 0600), refusing it past the
    attachment size limit before it is all read; its path."""
    name = clean_name(upload.filename or "attachment")
    target = directory / str(index)
    target.mkdir(mode=0o700)
    path = target / name
    size = 0
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        while True:
            chunk = await upload.read(CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BYTES:
                raise InputError("attachment {file!r} is larger than the limit of {limit} MiB", file=name,
                                 limit=MAX_BYTES // (1024 * 1024))
            out.write(chunk)
    return str(path)


@asynccontextmanager
async def read_body(request: Request, model: type[M]) -> AsyncIterator[tuple[M, list[str]]]:
    """The validated body and the paths of its uploaded photos (removed when the block ends).

    Raises:
        Malformed: a body that is neither JSON nor a form, or JSON that does not parse.
        InputError: a field is missing or wrong, an unknown field (such as ``actor``), too many or too large photos.
    """
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    tmp: str | None = None
    try:
        photos: list[str] = []
        if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            try:
                form = await request.form(max_files=MAX_PER_STEP, max_fields=200)
            except Exception as exc:  # starlette raises its own errors for broken or oversized forms
                if isinstance(exc, CasecraftError):
                    raise
                raise Malformed("the form data cannot be read: {reason}", reason=str(exc)) from None
            lists = _list_fields(model)
            data: dict[str, Any] = {}
            uploads: list[UploadFile] = []
            for key in set(form.keys()):
                values = form.getlist(key)
                if key in (PHOTO_FIELD, "photo"):
                    uploads += [v for v in values if isinstance(v, UploadFile)]
                    continue
                texts = [v for v in values if isinstance(v, str)]
                data[key] = texts if key in lists else (texts[-1] if texts else None)
            if len(uploads) > MAX_PER_STEP:
                raise InputError("at most {limit} attachments per step", limit=MAX_PER_STEP)
            if uploads:
                tmp = tempfile.mkdtemp(prefix="casecraft-upload-")
                for i, up in enumerate(uploads):
                    photos.append(await save_upload(up, Path(tmp), i))
        elif ctype in ("application/json", "") or ctype.endswith("+json"):
            raw = await request.body()
            try:
                data = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise Malformed("the body is not valid JSON") from None
            except RecursionError:  # arrays or objects nested thousands deep: no body of ours is
                raise Malformed("the body's JSON is nested too deeply") from None
            if not isinstance(data, dict):
                raise Malformed("the body must be a JSON object")
        else:
            raise Malformed("unsupported Content-Type {type!r}: send application/json, or multipart/form-data "
                            "with photos", type=ctype)
        try:
            body = model.model_validate(data)
        except ValidationError as exc:
            raise invalid(exc) from None
        yield body, photos
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["Body", "ExtensionIn", "FireIn", "LogIn", "Malformed", "NoteIn", "OptionalNoteIn", "ReportIn", "save_upload",
           "SearchIn", "body_doc", "invalid", "read_body"]
