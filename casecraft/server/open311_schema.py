"""The Open311 router's OpenAPI description: response models and the ``POST requests`` form.

These models only document what the router writes (it builds its answers
itself, to write JSON and XML from the same data); the tests check the answers
against the published GeoReport v2 JSON schemas and, through schemathesis,
against this description.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Service(BaseModel):
    service_code: str = Field(description="事件目录编码")
    service_name: str = Field(description="事件名称")
    description: str | None
    metadata: bool = Field(description="true: see the service definition for the attributes a request may carry")
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str | None
    group: str | None = Field(description="事件大类")


class AttributeValue(BaseModel):
    key: str
    name: str


class Attribute(BaseModel):
    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str | None
    order: int | None
    description: str | None
    values: list[AttributeValue] | None = None


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[Attribute]


class ServiceRequest(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None = Field(description="the current step and the platform handling it")
    service_name: str | None
    service_code: str
    description: str | None
    agency_responsible: str | None = Field(description="the unit handling the case")
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str | None
    expected_datetime: str | None = Field(description="the case's time limit (set when the case is registered)")
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class Created(BaseModel):
    service_request_id: str
    service_notice: str | None


class Token(BaseModel):
    service_request_id: str
    token: str


class Error(BaseModel):
    code: int = Field(description="the HTTP status")
    description: str


_XML: dict[str, Any] = {"text/xml": {"schema": {"type": "string"}}}


def responses(model: Any, what: str) -> dict[int | str, dict[str, Any]]:
    """The documented answers of an operation: ``model`` (JSON) or XML, else GeoReport errors."""
    return {200: {"model": model, "description": what, "content": _XML},
            "default": {"model": list[Error], "description": "GeoReport errors: [{code, description}] or "
                        "<errors><error>...", "content": _XML}}


def _text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


ORDER_FORM: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {
        "type": "object",
        "required": ["api_key", "service_code"],
        "properties": {
            "api_key": _text("an intake account's token (a street platform operator's)"),
            "jurisdiction_id": _text("ignored: one jurisdiction per server"),
            "service_code": _text("the event catalogue code (services.json)", example="0102"),
            "address_string": _text("the address; it routes the request to its grid", maxLength=500,
                                    example="东高地街道E社区商业街12号"),
            "lat": {"type": "number", "description": "accepted, not stored: requests are routed by address"},
            "long": {"type": "number", "description": "accepted, not stored: requests are routed by address"},
            "address_id": _text("not supported: send address_string"),
            "description": _text("what the problem is", maxLength=2000, example="商铺在门前摆摊经营，占用人行道"),
            "first_name": _text("stored in the case's contact, never shown"),
            "last_name": _text("stored in the case's contact, never shown"),
            "phone": _text("stored in the case's contact, never shown"),
            "email": _text("stored in the case's contact, never shown"),
            "device_id": _text("ignored"),
            "account_id": _text("ignored"),
            "media_url": _text("ignored: photos are not fetched from other sites"),
            "attribute[ticket]": _text("the client's ticket: the idempotency key", maxLength=64,
                                       example="12345-20261124-0001"),
            "attribute[channel]": {"type": "string", "enum": ["12345", "96005"], "description": "default 12345"},
            "attribute[grid]": _text("a grid code; wins over the address", pattern="^[0-9]{15}$"),
        },
    }}}}}


__all__ = ["ORDER_FORM", "Attribute", "AttributeValue", "Created", "Error", "Service", "ServiceDefinition",
           "ServiceRequest", "Token", "responses"]
