"""GeoReport v2 documents as JSON or XML, and the GeoReport error list.

The JSON follows the specification's "Spark convention" mapping of its XML:
a list root (``services``, ``service_requests``, ``errors``) is a JSON array
and each of its items an object; a ``service_definition`` is an object. XML
is built with the standard library, without a namespace, UTF-8 with the XML
declaration, as the specification asks; ``None`` is an empty element.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from starlette.responses import Response

Format = Literal["json", "xml"]
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"

# the element name of one item of each list, as the specification names them
ITEM_TAGS = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
             "values": "value"}
# characters XML 1.0 cannot carry at all (rows written before the input checks could hold them)
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _element(tag: str, value: Any) -> ET.Element:
    el = ET.Element(tag)
    if isinstance(value, Mapping):
        for key, child in value.items():
            el.append(_element(key, child))
    elif isinstance(value, list | tuple):
        item = ITEM_TAGS.get(tag, "item")
        for child in value:
            el.append(_element(item, child))
    else:
        el.text = _text(value)
    return el


def to_xml(root: str, document: Mapping[str, Any] | Sequence[Any]) -> bytes:
    """``document`` as a GeoReport XML document under ``root`` (UTF-8, with the XML declaration)."""
    body = ET.tostring(_element(root, document), encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode("utf-8")


def render(fmt: Format, root: str, document: Mapping[str, Any] | Sequence[Any], *, status: int = 200,
           headers: Mapping[str, str] | None = None) -> Response:
    """The HTTP response carrying ``document`` in ``fmt`` (``root`` names the XML root element)."""
    if fmt == "xml":
        return Response(to_xml(root, document), status_code=status, media_type=XML_TYPE, headers=headers)
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, media_type=JSON_TYPE, headers=headers)


def errors(fmt: Format, status: int, descriptions: Sequence[str], *,
           headers: Mapping[str, str] | None = None) -> Response:
    """GeoReport's error list: ``[{"code": status, "description": ...}]`` or ``<errors><error>...``."""
    items = [{"code": status, "description": d} for d in descriptions]
    return render(fmt, "errors", items, status=status, headers=headers)


def format_of(path: str) -> Format:
    """The format a request asked for by its path's suffix (errors answer in it; JSON unless ``.xml``)."""
    return "xml" if path.endswith(".xml") else "json"


__all__ = ["Format", "JSON_TYPE", "XML_TYPE", "errors", "format_of", "render", "to_xml"]
