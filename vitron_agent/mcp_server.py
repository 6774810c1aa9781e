"""vitron-agent's tools over the Model Context Protocol (stdio), with the official ``mcp`` SDK.

Any MCP client (a desktop assistant, an IDE, another agent) lists the vision tools with their typed arguments and
calls them. Under the default policy ``ask`` a call to a tool with side effects does not run: it is checked,
recorded in the decision log as a proposal, and answered with the decision (tool, arguments, what would run, its
id) for the client to show its person; ``approve_decision(decision)`` then runs it, or
``reject_decision(decision, reason)`` drops it. Proposals live in the workspace's decision log, so they survive
a server restart. ``--policy auto`` runs calls at once. ``import_media`` brings a file into the store, from the
workspace or a folder given with ``--import-root`` (never ``/`` or the home folder, and not the folder the host
happened to start the server in).

    vitron-agent mcp --workspace vitron-workspace --import-root ~/Pictures   # what an MCP client's config launches
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any
from uuid import uuid4

if TYPE_CHECKING:
    from vitron_agent.workspace import Workspace

__all__ = ["VitronMcp", "build_server"]

THREAD = "mcp"
"""The decision log's thread for calls made over MCP."""
NEEDS_APPROVAL = ("Not run yet: {tool} changes things, so its decision waits for approval. Show it to the person, "
                  "then call approve_decision with decision={id!r} to run it, or reject_decision to drop it.")
INSTRUCTIONS = ("Vision tools: generate, segment and edit images and videos. Images and videos are artifact ids; "
                "import_media turns a file path into one. A tool that changes things answers with a decision to "
                "approve (approve_decision) before it runs.")


def build_server(workspace: Workspace | str | os.PathLike[str], *, policy: str = "ask", tools: Any = None,
                 import_roots: Sequence[str | os.PathLike[str]] = ()) -> Any:
    """The MCP server: one MCP tool per vision tool, plus ``import_media``, ``approve_decision`` and
    ``reject_decision``.

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
        """The SDK's server with every endpoint registered."""
        from mcp.server.mcpserver import MCPServer

        from vitron_agent.tools import tool_description

        server = MCPServer("vitron-agent", instructions=INSTRUCTIONS)
        for tool in self.tools.values():
            def call(__tool: Any = tool, **arguments: Any) -> str:
                return self.call(__tool, arguments)

            call.__signature__ = _signature(tool.Args)  # type: ignore[attr-defined]
            effect = " Answers with a decision to approve first." if tool.side_effects and self.policy == "ask" else ""
            server.add_tool(call, name=tool.name, description=f"{tool_description(tool)}{effect}",
                            meta={"side_effects": tool.side_effects})
        for endpoint in (self.approve_decision, self.reject_decision, self.import_media):
            server.add_tool(endpoint)
        return server

    def call(self, tool: Any, arguments: dict[str, Any]) -> str:
        """A vision tool's call: under ``ask`` a side-effecting one is proposed (its decision, recorded, waits for
        ``approve_decision``); otherwise it runs now, its approval recorded first."""
        from vitron_agent.graphs.review import call_decision
        from vitron_agent.tools import call_arguments, outside_decision, validated_args

        try:
            args = validated_args(tool, arguments, self.workspace.store.find)
        except ValueError as error:  # pydantic's ValidationError included: the client sees what to fix
            raise _tool_error(str(error)) from None
        record = call_arguments(args)
        if self.policy == "ask" and tool.side_effects:
            entry = outside_decision(THREAD, tool, record, action="propose", by="mcp client")
            self.workspace.log.record(THREAD, entry)
            decision = call_decision(entry.id, THREAD, tool, record, self.workspace.root,
                                     notes=getattr(args, "notes", ()))
            line = decision.current.readiness.line(tool.name)
            noted = "".join(f"Note: {note}. " for note in decision.current.notes)
            message = f"{line} {noted}{NEEDS_APPROVAL.format(tool=tool.name, id=entry.id)}".strip()
            return json.dumps({"status": "needs_approval", "decision": decision.model_dump(mode="json"),
                               "message": message})
        entry = outside_decision(THREAD, tool, record, action="approve", by=f"policy: {self.policy}")
        self.workspace.log.record(THREAD, entry)
        return self._run(tool, record, entry.id)

    def approve_decision(self, decision: str) -> str:
        """Run a proposed call, as it was shown (the decision's id from a tool's needs_approval answer). Of two
        approvals of one decision at the same instant, exactly one runs it; the other is told who approved it."""
        from vitron_agent.decisions import AlreadyApproved
        from vitron_agent.tools import outside_decision

        log = self.workspace.log
        proposal = log.get(decision)
        if proposal is None or proposal.action != "propose":
            raise _tool_error(f"there is no proposed decision {decision!r}; call the tool first")
        tool = self.tools[proposal.tool]
        won, taken = log.claim(decision, "mcp client", outcome="approved")
        if not won:
            raise _tool_error(str(AlreadyApproved(tool.name, taken)) if taken and taken.outcome == "approved"
                              else f"decision {decision!r} was already {taken.outcome if taken else 'taken'}")
        approval = outside_decision(THREAD, tool, proposal.args, action="approve", by="mcp client",
                                    proposal=decision).model_copy(update={"id": f"{decision}/approve/{uuid4().hex[:8]}"})
        log.record(THREAD, approval)
        return self._run(tool, proposal.args, approval.id)

    def reject_decision(self, decision: str, reason: str = "") -> str:
        """Drop a proposed call; nothing runs."""
        proposal = self.workspace.log.get(decision)
        if proposal is None or proposal.action != "propose" or proposal.outcome is not None:
            raise _tool_error(f"there is no open proposed decision {decision!r}")
        self.workspace.log.finish(decision, "rejected", (), reason or "rejected by the MCP client")
        return json.dumps({"status": "rejected", "decision": decision})

    def import_media(self, path: str) -> str:
        """Bring an image or video file (inside the workspace or a folder the server was given with
        --import-root) into the store; answers with its artifact id, for the tools' image or video argument."""
        try:
            artifact = self.workspace.store.import_file(path)
        except (ValueError, OSError) as error:  # MediaError and PathOutsideWorkspace are ValueErrors
            raise _tool_error(str(error)) from None
        return json.dumps({"id": artifact.id, "kind": artifact.kind, "width": artifact.meta["width"],
                           "height": artifact.meta["height"]})

    def _run(self, tool: Any, record: dict[str, Any], decision_id: str) -> str:
        from vitron_agent.tools import ToolFailed, run_logged

        try:
            result = run_logged(tool, record, decision_id, self.workspace)
        except ToolFailed as error:  # recorded by run_logged, then told to the client as the tool's error
            raise _tool_error(str(error)) from None
        made = [self.workspace.store.get(artifact_id).brief() for artifact_id in result.artifacts]
        return json.dumps({"status": "done", "text": result.text, "artifacts": made})


def _tool_error(message: str) -> Exception:
    """The SDK's tool error: the client sees the message as the call's error."""
    from mcp.server.mcpserver.exceptions import ToolError

    return ToolError(message)


def _signature(model: Any) -> inspect.Signature:
    """A keyword-only signature with one parameter per field of a call model, constraints and descriptions
    kept, so the SDK publishes the same schema the model validates."""
    from pydantic import Field

    parameters = []
    for name, field in model.model_fields.items():
        if field.exclude or name == "notes":
            continue
        default = inspect.Parameter.empty if field.is_required() else field.get_default(call_default_factory=True)
        described = Field(description=field.description) if field.description else Field()
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                            annotation=Annotated[(field.annotation, *field.metadata, described)]))
    return inspect.Signature(parameters, return_annotation=str)
