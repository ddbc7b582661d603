"""Compile a workflow into one shared ``transitions`` Machine.

One Machine per workflow version serves every case: one light proxy stays
attached; for each action it is set to the case's stored state, the trigger
is fired and the new state read (no Machine or model per case is kept). Conditions come from an explicit registry of
callables built from the YAML ``when:`` data; no string from the YAML ever
reaches transitions (it would import strings as dotted paths).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from transitions import Machine
from transitions.core import EventData, MachineError

from casecraft.workflows.model import Condition, Transition
from casecraft.workflows.spec import Workflow

# The registry: condition keys the YAML may use, each read from the event's context.
CONDITION_KEYS = ("source", "outcome", "resolved_tier")


def _condition(when: Condition) -> Callable[[EventData], bool]:
    wanted = {k: v for k, v in when.model_dump().items() if v is not None and k in CONDITION_KEYS}

    def check(event: EventData) -> bool:
        ctx = event.kwargs
        return all(ctx.get(k) == v for k, v in wanted.items())

    return check


def _picker(tr: Transition) -> Callable[[EventData], None]:
    def pick(event: EventData) -> None:
        event.model.picked = tr

    return pick


class CompiledMachine:
    """The workflow's state machine, shared by every case on this version."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        transitions: list[dict[str, Any]] = []
        for tr in workflow.file.transitions:
            spec: dict[str, Any] = {
                "trigger": tr.trigger, "source": list(tr.sources), "dest": tr.dest,
                "before": [_picker(tr)],
            }
            if tr.when is not None:
                spec["conditions"] = [_condition(tr.when)]
            transitions.append(spec)
        # One small proxy class per machine: transitions registers on_enter_* found
        # on a model class on the shared states, so classes must not be shared.
        self._proxy_cls = type(f"CaseProxy_{workflow.content_hash[:8]}", (), {"__slots__": ("state", "__dict__")})
        self.machine = Machine(
            model=None,
            states=list(workflow.states),
            transitions=transitions,
            initial=workflow.initial,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        # One proxy stays attached for the machine's life; each call sets it to the case's
        # state first. add_model/remove_model per call walks every state (about 1 ms on a
        # 22-state workflow); a lock keeps threads from sharing the proxy at once.
        self._lock = threading.Lock()
        self._proxy = self._proxy_cls()
        self.machine.add_model(self._proxy, initial=workflow.initial)

    def next_state(self, state: str, trigger: str, **context: Any) -> tuple[str, Transition] | None:
        """The state ``trigger`` leads to from ``state`` given ``context``, and the transition taken.

        Returns None when the trigger is valid from the state but no
        transition's conditions match the context.

        Raises:
            MachineError: the trigger is not valid from ``state``.
        """
        with self._lock:
            proxy = self._proxy
            self.machine.set_state(state, model=proxy)
            proxy.picked = None
            ok = proxy.trigger(trigger, **context)
            return (proxy.state, proxy.picked) if ok else None


__all__ = ["CompiledMachine", "MachineError", "CONDITION_KEYS"]
