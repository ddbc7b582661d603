"""Workflow definitions: loading, validation, the compiled state machine.

Names are imported on first use: a command that runs on a published version never loads the YAML reader.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {"Workflow": "casecraft.workflows.spec", "default_workflow_path": "casecraft.workflows.loader",
            "load_workflow": "casecraft.workflows.loader"}

__all__ = ["Workflow", "default_workflow_path", "load_workflow"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'casecraft.workflows' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
