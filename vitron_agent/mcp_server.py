"""vitron-agent's tools over the Model Context Protocol (stdio), with the official ``mcp`` SDK.

Any MCP client (a desktop assistant, an IDE, another agent) lists the vision tools with their typed arguments and
calls them. Under the default policy ``ask`` a call to a tool with side effects is checked, recorded in the
decision log as a proposal, and put to the client's person through MCP elicitation; it runs only if they accept.
A client that declares no elicitation is answered with the decision (tool, arguments, what would run, its id) to
show its person; ``approve_decision(decision)`` (annotated destructive, so hosts confirm it) then runs it, or
``reject_decision(decision, reason)`` drops it. The log records which path approved each run. Proposals live in
the workspace's decision log, so they survive a server restart. ``--policy auto`` runs calls at once.
``import_media`` brings a file into the store, from the workspace or a folder given with ``--import-root`` (never
``/`` or the home folder, and not the folder the host happened to start the server in).

    vitron-agent mcp --workspace vitron-workspace --import-root ~/Pictures   # what an MCP client's config launches
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any
from uuid import uuid4

# the SDK finds a tool's context parameter by this annotation, at run time
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from vitron_agent.claims import holding, running
from vitron_agent.decisions import Decision, LogEntry
from vitron_agent.mcp_content import ToolAnswer, add_artifact_resources, answered

if TYPE_CHECKING:
    from vitron_agent.workspace import Workspace

_log = logging.getLogger(__name__)

__all__ = ["VitronMcp", "build_server"]

THREAD = "mcp"
"""The decision log's thread for calls made over MCP."""
NEEDS_APPROVAL = ("Not run yet: {tool} changes things, so its decision waits for approval. Show it to the person, "
                  "then call approve_decision with decision={id!r} to run it, or reject_decision to drop it.")
CHOOSE = " Show the person the candidates, then call choose with the id of the one they keep."
INSTRUCTIONS = ("Vision tools: generate, segment and edit images and videos. Images and videos are artifact ids; "
                "import_media turns a file path into one. A tool that changes things asks the person first; where "
                "it can't, it answers with a decision for the person to approve (approve_decision) before it runs.")


def build_server(workspace: Workspace | str | os.PathLike[str], *, policy: str = "ask", tools: Any = None,
                 import_roots: Sequence[str | os.PathLike[str]] = ()) -> Any:
    """The MCP server: one MCP tool per vision tool, plus ``import_media``, ``approve_decision``,
    ``reject_decision`` and ``choose``.

    Args:
        workspace: the open workspace, or its folder.
        policy: ``"ask"``: side-effecting calls wait for ``approve_decision``; ``"auto"``: they run at once.
        tools: tool classes or instances; by default the built-ins and installed plugins.
        import_roots: the folders, besides the workspace, that ``import_media`` may read (``--import-root``);
            never the folder the server was started in unless named here, and never ``/`` or the home folder.
    """
    return VitronMcp(workspace, policy=policy, tools=tools, import_roots=import_roots).server()


class VitronMcp:
    """The endpoints of vitron-agent's MCP server, one method each, over one workspace; :meth:`server` registers
    them with the SDK's ``MCPServer``."""

    def __init__(self, workspace: Workspace | str | os.PathLike[str], *, policy: str = "ask",
                 tools: Any = None, import_roots: Sequence[str | os.PathLike[str]] = ()) -> None:
        from vitron_agent.paths import refuse_broad_roots
        from vitron_agent.tools import load_tools, recover_interrupted
        from vitron_agent.workspace import Workspace

        if policy not in ("ask", "auto"):
            raise ValueError(f"policy={policy!r} must be 'ask' or 'auto' for the MCP server")
        self.policy = policy
        # MCP hosts often start servers in / or the home folder: the folder the server runs in is never a root
        self.workspace = Workspace.of(workspace, import_roots=refuse_broad_roots(import_roots))
        self.tools = load_tools(tools)
        recover_interrupted(self.workspace, THREAD)  # approvals a dead server left running are offered again

    def server(self) -> Any:
        """The SDK's server with every endpoint registered, each with the tool annotations hosts read: a call
        that changes nothing is ``readOnlyHint``; ``approve_decision``, the step that runs a change, is
        ``destructiveHint`` (so a host confirms it with its person)."""
        from mcp.server.mcpserver import MCPServer
        from mcp.types import ToolAnnotations

        from vitron_agent.tools import tool_description

        server = MCPServer("vitron-agent", instructions=INSTRUCTIONS)
        store = self.workspace.store
        for tool in self.tools.values():
            async def call(ctx: Context, __tool: Any = tool, **arguments: Any) -> CallToolResult:
                return answered(await self.call(__tool, arguments, ctx), store)

            call.__signature__ = _signature(tool.Args, context="ctx").replace(  # type: ignore[attr-defined]
                return_annotation=ToolAnswer)
            call.__annotations__ = {"ctx": Context, "return": ToolAnswer}
            effect = " Asks the person to approve it first." if tool.side_effects and self.policy == "ask" else ""
            server.add_tool(call, name=tool.name, description=f"{tool_description(tool)}{effect}",
                            meta={"side_effects": tool.side_effects},
                            annotations=ToolAnnotations(readOnlyHint=not tool.side_effects, destructiveHint=False,
                                                        openWorldHint=False))
        async def approve(decision: str, ctx: Context) -> ToolAnswer:
            return answered(await self.approve_decision(decision, ctx), store)  # type: ignore[return-value]

        server.add_tool(approve, name="approve_decision", description=inspect.getdoc(self.approve_decision),
                        annotations=ToolAnnotations(title="Run a proposed change", destructiveHint=True,
                                                    idempotentHint=False, openWorldHint=False))
        server.add_tool(self.reject_decision, annotations=ToolAnnotations(
            title="Drop a proposed change", readOnlyHint=False, destructiveHint=False, idempotentHint=True,
            openWorldHint=False))
        server.add_tool(self.import_media, annotations=ToolAnnotations(
            title="Bring a file into the store", readOnlyHint=False, destructiveHint=False, idempotentHint=True,
            openWorldHint=False))
        server.add_tool(self.choose, annotations=ToolAnnotations(
            title="Keep one of a run's candidates", readOnlyHint=False, destructiveHint=False, idempotentHint=True,
            openWorldHint=False))
        add_artifact_resources(server, store)
        return server

    async def call(self, tool: Any, arguments: dict[str, Any], ctx: Any = None) -> str:
        """A vision tool's call. Under ``ask`` a side-effecting one is proposed (its decision recorded) and the
        person is asked through MCP elicitation; a client that can't ask its person gets the decision back to
        show, and ``approve_decision`` runs it. Otherwise it runs now, its approval recorded first."""
        from vitron_agent.graphs.review import call_decision
        from vitron_agent.tools import call_arguments, outside_decision, validated_args

        try:
            args = validated_args(tool, arguments, self.workspace.store.find)
        except ValueError as error:  # pydantic's ValidationError included: the client sees what to fix
            raise _tool_error(str(error)) from None
        record = call_arguments(args)
        if not (self.policy == "ask" and tool.side_effects):
            entry = outside_decision(THREAD, tool, record, action="approve", by=f"policy: {self.policy}")
            self.workspace.log.record(THREAD, entry)
            return await _in_thread(self._run, tool, record, entry.id)
        entry = outside_decision(THREAD, tool, record, action="propose", by="mcp client")
        self.workspace.log.record(THREAD, entry)
        decision = call_decision(entry.id, THREAD, tool, record, self.workspace.root, notes=getattr(args, "notes", ()))
        answer = await _ask_person(ctx, decision)
        if answer is None:  # no person to ask through this client: it shows the decision, approve_decision runs it
            return _needs_approval(decision)
        return await self._answered(tool, entry, answer)

    async def approve_decision(self, decision: str, ctx: Context | None = None) -> str:
        """Run a proposed call, as it was shown (the decision's id from a tool's needs_approval answer). A client
        that can ask its person (MCP elicitation) is asked to; of two approvals of one decision at the same
        instant, exactly one runs it and the other is told who approved it."""
        from vitron_agent.graphs.review import call_decision

        proposal = self._proposal(decision)
        if proposal is None or proposal.action != "propose":
            raise _tool_error(f"there is no proposed decision {decision!r}; call the tool first")
        tool = self.tools[proposal.tool]
        answer = None
        if proposal.outcome is None and _can_elicit(ctx):  # described (weights, readiness) only to be shown
            answer = await _ask_person(ctx, call_decision(decision, THREAD, tool, proposal.args, self.workspace.root))
        return await self._answered(tool, proposal, answer or "accept", by="mcp client" if answer is None else None)

    def reject_decision(self, decision: str, reason: str = "") -> str:
        """Drop a proposed call; nothing runs."""
        proposal = self._proposal(decision)
        if proposal is None or proposal.action != "propose" or not self._close(decision, "rejected", "mcp client",
                                                                                reason or "rejected by the MCP client"):
            raise _tool_error(f"there is no open proposed decision {decision!r}")
        return json.dumps({"status": "rejected", "decision": decision})

    async def _answered(self, tool: Any, proposal: LogEntry, answer: str, by: str | None = None) -> str:
        """Act on the answer to a proposal: on ``accept`` claim it (once, atomically), record who approved it and
        run it; on ``decline`` or ``cancel`` it is rejected, and nothing runs. ``by`` defaults to the
        elicitation."""
        from vitron_agent.decisions import AlreadyApproved
        from vitron_agent.tools import outside_decision

        by = by or "mcp elicitation"
        if answer != "accept":  # declined, or the question dismissed: either way the person did not approve it
            said = "declined" if answer == "decline" else "dismissed"
            self._close(proposal.id, "rejected", by, f"{said} by the person when asked")
            return json.dumps({"status": "rejected", "decision": proposal.id,
                               "message": f"The person {said} {tool.name}; nothing ran."})
        log = self.workspace.log
        with running() as claimer:  # a leased claim: a server killed before the run starts lets it lapse
            won, taken = log.claim(proposal.id, claimer, outcome="approved")
            if not won:
                raise _tool_error(str(AlreadyApproved(tool.name, taken)) if taken and taken.outcome == "approved"
                                  else f"decision {proposal.id!r} was already {taken.outcome if taken else 'taken'}")
            with holding(log, proposal.id, claimer):
                approval = outside_decision(THREAD, tool, proposal.args, action="approve", by=by,
                                            proposal=proposal.id)
                approval = approval.model_copy(update={"id": f"{proposal.id}/approve/{uuid4().hex[:8]}"})
                log.record(THREAD, approval)
                return await _in_thread(self._run, tool, proposal.args, approval.id)

    def _proposal(self, decision: str) -> LogEntry | None:
        """A proposal as the log holds it; one approved by a server that died before its run started (its lease
        lapsed) is offered again first, so it can be approved or rejected."""
        from vitron_agent.tools import recover_interrupted

        proposal = self.workspace.log.get(decision)
        if proposal is not None and proposal.outcome == "approved":
            recover_interrupted(self.workspace, THREAD)
            proposal = self.workspace.log.get(decision)
        return proposal

    def _close(self, decision: str, outcome: str, by: str, message: str) -> bool:
        """End an open proposal without running it; False when something else took it first."""
        won, _ = self.workspace.log.claim(decision, by, outcome=outcome)
        if won:
            self.workspace.log.finish(decision, outcome, (), message)
        return won

    def import_media(self, path: str) -> str:
        """Bring an image or video file (inside the workspace or a folder the server was given with
        --import-root) into the store; answers with its artifact id, for the tools' image or video argument."""
        try:
            artifact = self.workspace.store.import_file(path)
        except (ValueError, OSError) as error:  # MediaError and PathOutsideWorkspace are ValueErrors
            raise _tool_error(str(error)) from None
        return json.dumps({"id": artifact.id, "kind": artifact.kind, "width": artifact.meta["width"],
                           "height": artifact.meta["height"]})

    def choose(self, artifact: str) -> str:
        """Keep one of the candidates a run made (a call with candidates 2 to 4 answers with them, numbered): give
        the chosen one's artifact id. The choice is recorded in the decision log; the others are marked not chosen
        and stay in the store."""
        from vitron_agent.choices import ChoiceError, choose_outside

        try:
            return choose_outside(self.workspace.log, self.workspace.store, artifact, thread=THREAD, by="mcp client")
        except ChoiceError as error:
            raise _tool_error(str(error)) from None

    def _run(self, tool: Any, record: dict[str, Any], decision_id: str) -> str:
        from vitron_agent.tools import ToolFailed, run_logged

        try:
            result = run_logged(tool, record, decision_id, self.workspace)
        except ToolFailed as error:  # recorded by run_logged, then told to the client as the tool's error
            raise _tool_error(str(error)) from None
        made = [self.workspace.store.get(artifact_id).brief() for artifact_id in result.artifacts]
        text = result.text + (CHOOSE if any("candidate" in brief for brief in made) else "")
        return json.dumps({"status": "done", "text": text, "artifacts": made})


class Approval(BaseModel):
    """What the person answers when the server asks through MCP elicitation."""

    approve: bool = Field(True, description="Run it, as shown")


async def _ask_person(ctx: Any, decision: Decision) -> str | None:
    """Ask the client's person about ``decision`` through MCP elicitation: ``"accept"``, ``"decline"`` or
    ``"cancel"`` (an accepted form that unticks ``approve`` is a decline). None when the client can't ask
    (it declared no elicitation) or the asking failed; the caller then falls back to ``approve_decision``."""
    if not _can_elicit(ctx):
        return None
    message = f"{decision.as_text()}\n\nRun it? Nothing runs unless you accept."
    try:
        result = await ctx.elicit(message, schema=Approval)
    except Exception:  # noqa: BLE001 (the client broke off or answered off-schema)
        # nobody approved it, and it stays proposed
        _log.warning("MCP elicitation failed; the decision waits for approve_decision", exc_info=True)
        return None
    if result.action == "accept" and not result.data.approve:
        return "decline"
    return result.action


def _can_elicit(ctx: Any) -> bool:
    """Whether the client declared MCP elicitation, so its person can be asked."""
    from mcp.types import ClientCapabilities, ElicitationCapability

    return ctx is not None and ctx.session.check_client_capability(
        ClientCapabilities(elicitation=ElicitationCapability()))


def _needs_approval(decision: Decision) -> str:
    """The answer to a client that can't ask its person: the decision to show, and how to approve it."""
    line = decision.current.readiness.line(decision.tool)
    noted = "".join(f"Note: {note}. " for note in decision.current.notes)
    message = f"{line} {noted}{NEEDS_APPROVAL.format(tool=decision.tool, id=decision.id)}".strip()
    return json.dumps({"status": "needs_approval", "decision": decision.model_dump(mode="json"), "message": message})


async def _in_thread(function: Any, *args: Any) -> str:
    """Run a tool off the event loop, so the server keeps answering (and asking) while it works."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(function, *args)


def _tool_error(message: str) -> Exception:
    """The SDK's tool error: the client sees the message as the call's error."""
    from mcp.server.mcpserver.exceptions import ToolError

    return ToolError(message)


def _signature(model: Any, *, context: str) -> inspect.Signature:
    """A keyword-only signature with one parameter per field of a call model, constraints and descriptions
    kept, so the SDK publishes the same schema the model validates; ``context`` names the SDK's context
    parameter (left out of the schema)."""
    parameters = [inspect.Parameter(context, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for name, field in model.model_fields.items():
        if field.exclude or name == "notes":
            continue
        default = inspect.Parameter.empty if field.is_required() else field.get_default(call_default_factory=True)
        described = Field(description=field.description) if field.description else Field()
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                            annotation=Annotated[(field.annotation, *field.metadata, described)]))
    return inspect.Signature(parameters, return_annotation=str)
