"""What the person is asked and how their answer is read: the policy that decides whether a step waits, the
decision as shown (a LangGraph interrupt's payload, JSON-serialisable), the answer, and the record the decision
log keeps. The graph's ``review`` and ``execute`` nodes use these; the terminal and the MCP server show the same
``summary`` and ``shown_step``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from vitron_agent.graphs.plan import Plan, PlanStep
from vitron_agent.invocation import Module
from vitron_agent.tools import Tool

__all__ = [
    "Policy",
    "check_policy",
    "decision_record",
    "must_ask",
    "policy_name",
    "read_answer",
    "shown",
    "shown_step",
    "summary",
    "thread_id",
]

Policy = Literal["ask", "auto", "step"] | frozenset[str]
"""``"ask"``: every side-effecting call waits for a person (a plan is approved as a whole); ``"step"``: the same,
and each step of a plan is asked for in turn; ``"auto"``: nothing waits; a set of tool names: those wait, the rest
run."""


def check_policy(policy: Any) -> Policy:
    """The policy in its stored form (a set of tool names becomes a frozenset).

    Raises:
        ValueError: not "ask", "auto", "step" or a set of tool names.
    """
    if policy in ("ask", "auto", "step"):
        return policy
    if isinstance(policy, (set, frozenset, list, tuple)) and all(isinstance(name, str) for name in policy):
        return frozenset(policy)
    raise ValueError(f"policy={policy!r} must be 'ask', 'auto', 'step' or a set of tool names")


def must_ask(policy: Policy, tool: Tool) -> bool:
    """Whether a step with this tool waits for a person: a tool without side effects never does, except by name."""
    if isinstance(policy, frozenset):
        return tool.name in policy
    return policy in ("ask", "step") and tool.side_effects


def policy_name(policy: Policy) -> str:
    return policy if isinstance(policy, str) else "per tool"


def shown(plan: Plan, waiting: list[int], tools: Mapping[str, Tool]) -> dict[str, Any]:
    """The decision as the person sees it, JSON-serialisable: the step it is about (the first waiting one) at
    the top level, as for a single call, and the whole plan under ``steps``."""
    current = plan.steps[waiting[0]]
    module = Module(current.module) if current.module else None
    return {
        "id": plan.id,
        "tool": current.tool,
        "module": module.value if module else None,
        "module_name": module.human_name if module else None,
        "args": current.args,
        "summary": summary(current.tool, current.args),
        "preview": current.preview,
        "backend": current.backend,
        "readiness": current.readiness.model_dump(),
        "can_run": current.readiness.can_run,
        "notes": current.notes,
        "changed": current.changed,
        "response": plan.response,
        "error": plan.error,
        "step": waiting[0] + 1,
        "asking": [i + 1 for i in waiting],
        "steps": [{**shown_step(i + 1, step), "side_effects": tools[step.tool].side_effects}
                  for i, step in enumerate(plan.steps)],
    }


def shown_step(number: int, step: PlanStep) -> dict[str, Any]:
    """One step of a plan as the person sees it (in a decision, and in the terminal's ``/plan``)."""
    return {"number": number, "tool": step.tool, "module": step.module, "args": step.args,
            "summary": summary(step.tool, step.args), "status": step.status, "preview": step.preview,
            "backend": step.backend, "readiness": step.readiness.model_dump(), "notes": step.notes,
            "changed": step.changed, "message": step.message}


def summary(tool: str, args: Mapping[str, Any]) -> str:
    """``segment_image: target 'zebra', region (12, 30, 200, 180)``, cut to one line."""
    parts = []
    for key in ("image", "video"):
        if isinstance(args.get(key), str) and args[key].startswith("@"):
            parts.append(f"{key} {args[key]}")
    for key in ("target", "prompt", "prompts", "foreground", "background"):
        if args.get(key):
            parts.append(f"{key} {args[key]!r}")
    if args.get("region"):
        parts.append("region (" + ", ".join(f"{v:g}" for v in args["region"].values()) + ")")
    text = f"{tool}: {', '.join(parts)}" if parts else tool
    return text if len(text) <= 160 else text[:157] + "..."


def read_answer(answer: Any) -> tuple[str, Any, int | None]:
    """(action, payload, step number) from ``"approve"`` or ``{"action": ..., "args"/"feedback", "step"}``."""
    if isinstance(answer, str):
        return answer.strip().lower(), None, None
    if isinstance(answer, Mapping):
        action = str(answer.get("action", "")).lower()
        step = answer.get("step")
        number = int(step) if isinstance(step, (int, str)) and str(step).isdigit() else None
        return action, answer.get("args") if action == "edit" else answer.get("feedback"), number
    return "", None, None


def decision_record(step: PlanStep, plan: Plan, config: RunnableConfig, number: int, action: str, by: str,
                    **extra: Any) -> dict[str, Any]:
    """A decision record; its id is derived from the thread, the step and the thread's decision count, so a node
    that re-runs makes the same record, not a second one, and a forked thread never reuses its origin's ids."""
    return {
        "id": f"{thread_id(config)}/{step.id}-{number}",
        "call": step.id,
        "plan": plan.id,
        "step": plan.steps.index(step) + 1,
        "steps": len(plan.steps),
        "tool": step.tool,
        "module": step.module,
        "action": action,
        "by": by,
        "args": step.args,
        "changed": step.changed,
        "preview": step.preview,
        "backend": step.backend,
        **extra,
    }


def thread_id(config: RunnableConfig) -> str:
    return str((config.get("configurable") or {}).get("thread_id", ""))
