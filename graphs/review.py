"""What the person is asked: the policy that decides whether a step waits, the typed
:class:`~vitron_agent.decisions.Decision` built from a plan, and the log entry each decision leaves. The graph's
``review`` and ``execute`` nodes use these; the terminal and the MCP server show the same ``summary`` and
``step_view``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig

from vitron_agent.decisions import Decision, LogEntry, StepView
from vitron_agent.graphs.plan import Plan, PlanStep
from vitron_agent.invocation import Module
from vitron_agent.tools import Tool

__all__ = [
    "POLICY_KEY",
    "Policy",
    "at_least_as_strict",
    "build_decision",
    "call_decision",
    "check_policy",
    "log_entry",
    "must_ask",
    "policy_name",
    "run_policy",
    "step_view",
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


POLICY_KEY = "vitron_agent_policy"
"""The run config's key (``config["configurable"][POLICY_KEY]``) for a per-run policy: namespaced, so a parent
graph's own ``policy`` setting never reaches the review."""


def at_least_as_strict(policy: Policy, than: Policy) -> bool:
    """Whether ``policy`` asks before everything ``than`` asks before: "step" > "ask" > a set of tool names (a
    superset is stricter) > "auto"."""
    rank = {"auto": 0, "ask": 2, "step": 3}
    if isinstance(policy, frozenset) and isinstance(than, frozenset):
        return policy >= than
    if isinstance(than, frozenset):
        return policy in ("ask", "step")
    return (1 if isinstance(policy, frozenset) else rank[policy]) >= rank[than]


def run_policy(config: RunnableConfig, owner: Policy, *, may_loosen: bool) -> Policy:
    """The policy one run is reviewed under: the owner's, or a stricter one the run's config asks for under
    :data:`POLICY_KEY`; a looser one only when the owner opted in (``may_loosen``). Anything unreadable is the
    owner's."""
    asked = (config.get("configurable") or {}).get(POLICY_KEY)
    if asked is None:
        return owner
    try:
        asked = check_policy(asked)
    except ValueError:
        return owner
    return asked if may_loosen or at_least_as_strict(asked, owner) else owner


def must_ask(policy: Policy, tool: Tool) -> bool:
    """Whether a step with this tool waits for a person: a tool without side effects never does, except by name."""
    if isinstance(policy, frozenset):
        return tool.name in policy
    return policy in ("ask", "step") and tool.side_effects


def policy_name(policy: Policy | str) -> str:
    return policy if isinstance(policy, str) else "per tool"


def build_decision(plan: Plan, waiting: list[int], tools: Mapping[str, Tool], thread: str,
                   policy: Policy | str, round: int = 0) -> Decision:
    """The decision as the person sees it: every step of the plan, the ones asking now (``waiting``, indexes),
    and why the last answer was refused, if it was; ``round`` numbers the showing."""
    return Decision(id=plan.id, thread=thread, response=plan.response,
                    steps=[step_view(index + 1, step, tools) for index, step in enumerate(plan.steps)],
                    asking=[index + 1 for index in waiting], policy=policy_name(policy), error=plan.error,
                    round=round)


def step_view(number: int, step: PlanStep, tools: Mapping[str, Tool]) -> StepView:
    """One step of a plan as the person sees it (in a decision, and in the terminal's ``/plan``)."""
    module = Module(step.module) if step.module else None
    tool = tools.get(step.tool)
    return StepView(number=number, tool=step.tool, module=step.module,
                    module_name=module.human_name if module else None, args=step.args,
                    summary=summary(step.tool, step.args), status=step.status,
                    side_effects=tool.side_effects if tool is not None else True, preview=step.preview,
                    backend=step.backend, readiness=step.readiness, notes=step.notes, changed=step.changed,
                    message=step.message)


def call_decision(decision_id: str, thread: str, tool: Tool, args: dict[str, Any], workspace: Path,
                  notes: Sequence[str] = ()) -> Decision:
    """The decision for one call made outside the graph (an MCP proposal): one step, asking; ``notes`` say what
    validation changed (a region clipped to its image)."""
    from vitron_agent.readiness import Readiness, check
    from vitron_agent.tools import describe_call

    runs_on = describe_call(tool, args, workspace)
    step = StepView(number=1, tool=tool.name, module=tool.module.value if tool.module else None,
                    module_name=tool.module.human_name if tool.module else None, args=args,
                    summary=summary(tool.name, args), side_effects=tool.side_effects,
                    backend=runs_on.backend if runs_on else None,
                    readiness=check(runs_on, workspace) if runs_on else Readiness(), notes=list(notes))
    return Decision(id=decision_id, thread=thread, steps=[step], asking=[1])


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
    if args.get("points"):
        shown = [f"{'+' if p.get('positive', True) else '-'}({p['x']:g}, {p['y']:g})" for p in args["points"]]
        parts.append("clicks " + " ".join(shown))
    text = f"{tool}: {', '.join(parts)}" if parts else tool
    return text if len(text) <= 160 else text[:157] + "..."


def log_entry(step: PlanStep, plan: Plan, config: RunnableConfig, number: int, action: str, by: str,
              **extra: Any) -> LogEntry:
    """The decision log's entry for a decision on one step; its id is derived from the thread, the step and the
    thread's decision count, so a node that re-runs makes the same entry, not a second one, and a forked thread
    never reuses its origin's ids."""
    return LogEntry(id=f"{thread_id(config)}/{step.id}-{number}", call=step.id, plan=plan.id,
                    step=plan.steps.index(step) + 1, steps=len(plan.steps), tool=step.tool, module=step.module,
                    action=action, by=by, args=step.args, changed=step.changed, preview=step.preview,
                    backend=step.backend, **extra)


def thread_id(config: RunnableConfig) -> str:
    return str((config.get("configurable") or {}).get("thread_id", ""))


def login(config: RunnableConfig) -> str | None:
    """The user LangGraph's server authenticated for this run (``graphs/auth.py``), or None elsewhere. The server
    sets it, and refuses it from a client, so it names who answers whatever the answer says."""
    user = (config.get("configurable") or {}).get("langgraph_auth_user_id")
    return str(user) if user else None
