"""Workflow definitions: loading, validation, the compiled state machine."""

from casecraft.workflows.loader import default_workflow_path, load_workflow
from casecraft.workflows.spec import Workflow

__all__ = ["Workflow", "default_workflow_path", "load_workflow"]
