"""Compile a workflow into one shared ``transitions`` Machine: the single answer to "what may happen here".

One Machine per workflow version serves every case: one light proxy stays
attached; for each question it is set to the case's stored state. Which
triggers leave a state, which of a trigger's transitions apply to a case
(their ``when:`` conditions), and where it leads all come from the Machine:
its events and transitions, and the condition callables registered on them.
Conditions come from an explicit registry of callables built from the YAML
``when:`` data; no string from the YAML ever reaches transitions (it would
import strings as dotted paths).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from transitions import Machine
from transitions.core import EventData, MachineError

from casecraft.workflows.shape import Condition, Transition
from casecraft.workflows.spec import Workflow

# The registry: condition keys the YAML may use, each read from the event's context.
CONDITION_KEYS = ("source", "outcome", "resolved_tier")


class _Any:
    """An input not given yet: matches any condition on it (listing what may happen before it is chosen)."""

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()


def _condition(when: Condition) -> Callable[[EventData], bool]:
    wanted = {k: v for k in CONDITION_KEYS if (v := getattr(when, k)) is not None}

    def check(event: EventData) -> bool:
        ctx = event.kwargs
        return all(ctx.get(k) is ANY or ctx.get(k) == v for k, v in wanted.items())

    return check


def _picker(tr: Transition) -> Callable[[EventData], None]:
    def pick(event: EventData) -> None:
        setattr(event.model, "picked", tr)  # noqa: B010 - the proxy is a plain object of this machine

    return pick


def _first(item: tuple[str, Any]) -> str:
    return item[0]


class CompiledMachine:
    """The workflow's state machine, shared by every case on this version."""

    KEPT = 4096  # answers kept per machine at most

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        transitions: list[dict[str, Any]] = []
        self._specs: list[Transition] = []
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
        # our Transition model behind each of the machine's transitions, in file order per (trigger, source)
        self._by_edge: dict[tuple[str, str], list[Transition]] = {}
        for tr in workflow.file.transitions:
            for src in tr.sources:
                self._by_edge.setdefault((tr.trigger, src), []).append(tr)
        # One proxy stays attached for the machine's life; each call sets it to the case's
        # state first. add_model/remove_model per call walks every state (about 1 ms on a
        # 22-state workflow); a lock keeps threads from sharing the proxy at once.
        self._lock = threading.Lock()
        self._proxy = self._proxy_cls()
        self.machine.add_model(self._proxy, initial=workflow.initial)
        # The Machine's answers, kept: it never changes after this, and its conditions read only the context,
        # so (state, trigger, context) always gets the same answer. Only answers are kept (an error is asked
        # again); bounded, though a workflow's states, triggers and context values are few.
        self._next: dict[tuple[Any, ...], tuple[str, Transition] | None] = {}
        self._from: dict[str, tuple[str, ...]] = {}

    def knows(self, trigger: str) -> bool:
        """Whether the workflow has this trigger at all."""
        return trigger in self.machine.events

    def triggers_from(self, state: str) -> list[str]:
        """The triggers that leave ``state``, in the workflow's order (from the Machine)."""
        found = self._from.get(state)
        if found is None:
            found = tuple(self.machine.get_triggers(state))
            if len(self._from) < self.KEPT:
                self._from[state] = found
        return list(found)

    @property
    def report_trigger(self) -> str:
        """The trigger that creates a case: the one leaving the initial state."""
        found = self.triggers_from(self.workflow.initial)
        if len(found) != 1:  # validated on load; a stored spec cannot differ
            raise MachineError(f"the initial state must have exactly one trigger, found {found}")
        return found[0]

    def candidates(self, state: str, trigger: str, **context: Any) -> list[Transition]:
        """The transitions of ``trigger`` from ``state`` whose conditions hold for ``context``.

        A context value of :data:`ANY` matches every condition on it (e.g. the outcome
        a person has yet to choose). Asked of the Machine's own transitions and conditions.

        Raises:
            MachineError: the trigger does not leave ``state``.
        """
        event = self.machine.events.get(trigger)
        if event is None or state not in event.transitions:
            raise MachineError(f"'{trigger}' is not valid from {state}")
        mine = self._by_edge.get((trigger, state), [])
        out: list[Transition] = []
        with self._lock:
            self.machine.set_state(state, model=self._proxy)
            data = EventData(self.machine.get_state(state), event, self.machine, self._proxy, (), context)
            for tr, spec in zip(event.transitions[state], mine, strict=True):
                if all(c.check(data) for c in tr.conditions):
                    out.append(spec)
        return out

    def next_state(self, state: str, trigger: str, **context: Any) -> tuple[str, Transition] | None:
        """The state ``trigger`` leads to from ``state`` given ``context``, and the transition taken.

        Returns None when the trigger is valid from the state but no
        transition's conditions match the context.

        Raises:
            MachineError: the trigger is not valid from ``state``.
        """
        key = (state, trigger, *sorted(context.items(), key=_first))
        keep = True
        try:
            return self._next[key]
        except KeyError:
            pass
        except TypeError:  # a context value that cannot be a key: asked, never kept
            keep = False
        if not self.knows(trigger):
            raise MachineError(f"'{trigger}' is not a trigger of this workflow")
        with self._lock:
            proxy = self._proxy
            self.machine.set_state(state, model=proxy)
            proxy.picked = None
            ok = proxy.trigger(trigger, **context)
            answer = (proxy.state, proxy.picked) if ok else None
        if keep and len(self._next) < self.KEPT:
            self._next[key] = answer
        return answer


__all__ = ["ANY", "CONDITION_KEYS", "CompiledMachine", "MachineError"]
