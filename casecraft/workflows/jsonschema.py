"""The JSON Schema of workflows.yaml, derived from the pydantic models the loader validates with.

Editors validate and complete ``workflows.yaml`` while typing through the
``# yaml-language-server: $schema=./workflows.schema.json`` comment on its first
line. yaml-language-server understands JSON Schema draft-07 and below, so the
pydantic output (draft 2020-12, ``$defs``) is rewritten to draft-07:
``definitions``, ``$id`` only at the root, and a ``$ref`` never has siblings
(draft-07 ignores them), so descriptions move next to an ``allOf``.

The schema judges structure only (keys, types, enums, patterns); references
between sections, durations and reachability are the loader's semantic checks.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://casecraft.invalid/workflows.schema.json"
DRAFT_07 = "http://json-schema.org/draft-07/schema#"
SCHEMA_FILE = "workflows.schema.json"


def workflow_schema() -> dict[str, Any]:
    """The draft-07 JSON Schema of a workflow file, with Chinese descriptions on every field."""
    from casecraft.workflows.model import WorkflowFile

    raw = WorkflowFile.model_json_schema(by_alias=True, ref_template="#/definitions/{model}", mode="validation")
    defs = raw.pop("$defs", {})
    body = _draft07(raw)
    out: dict[str, Any] = {
        "$schema": DRAFT_07,
        "$id": SCHEMA_ID,
        "title": "casecraft 工作流定义 (workflows.yaml)",
        "description": "网格化案件处置流程：层级、角色、操作、状态、流转、时限和事件目录。"
                       "由 `casecraft workflow schema` 从加载器使用的模型生成，请勿手工修改。",
    }
    body.pop("title", None)
    out.update(body)
    out["definitions"] = {name: _draft07(d) for name, d in sorted(defs.items())}
    return out


def schema_text() -> str:
    """The schema as the committed file holds it: sorted keys, two-space indent, Chinese unescaped."""
    return json.dumps(workflow_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _draft07(node: Any) -> Any:
    """Rewrite pydantic's 2020-12 output into draft-07 (recursively)."""
    if isinstance(node, list):
        return [_draft07(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _draft07(v) for k, v in node.items() if k not in ("$id", "$schema")}
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}]
    if "const" in out and "enum" not in out:
        out["enum"] = [out["const"]]  # const is draft-06+, enum is understood everywhere
    return out


__all__ = ["DRAFT_07", "SCHEMA_FILE", "SCHEMA_ID", "schema_text", "workflow_schema"]
