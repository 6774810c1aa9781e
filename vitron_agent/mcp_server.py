"""vitron-agent's tools over the Model Context Protocol (stdio), with the official ``mcp`` SDK.

Any MCP client (a desktop assistant, an IDE, another agent) lists the vision tools with their typed arguments and
calls them. Under the default policy ``ask`` a call to a tool with side effects does not run: it is checked,
recorded in the decision log as a proposal, and answered with the decision (tool, arguments, what would run, its
id) for the client to show its person; ``approve_decision(decision)`` then runs it, or
``reject_decision(decision, reason)`` drops it. Proposals live in the workspace's decision log, so they survive
a server restart. ``--policy auto`` runs calls at once. ``import_media`` brings a file into the store.

    vitron-agent mcp --workspace vitron-workspace            # what an MCP client's config launches
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Annotated, Any

__all__ = ["build_server"]

THREAD = "mcp"
"""The decision log's thread for calls made over MCP."""
NEEDS_APPROVAL = ("Not run yet: {tool} changes things, so its decision waits for approval. Show it to the person, "
                  "then call approve_decision with decision={id!r} to run it, or reject_decision to drop it.")


def build_server(workspace: str | os.PathLike[str], *, policy: str = "ask", tools: Any = None) -> Any:
    """The MCP server: one MCP tool per vision tool, plus ``import_media``, ``approve_decision`` and
    ``reject_decision``.

    Args:
        workspace: where artifacts and the decision log live.
        policy: ``"ask"``: side-effecting calls wait for ``approve_decision``; ``"auto"``: they run at once.
        tools: tool classes or instances; by default the built-ins and installed plugins.
    """
    from mcp.server.mcpserver import MCPServer

    from vitron_agent.workspace import Workspace
    from mcp.server.mcpserver.exceptions import ToolError

    from vitron_agent.graphs.review import summary
    from vitron_agent.readiness import Readiness, check
    from vitron_agent.tools import (
        ToolFailed,
        call_arguments,
        describe_call,
        load_tools,
        outside_decision,
        run_logged,
        tool_description,
    )

    if policy not in ("ask", "auto"):
        raise ValueError(f"policy={policy!r} must be 'ask' or 'auto' for the MCP server")
    opened = Workspace.of(workspace, import_roots=[Path.cwd()])
    root, store, log = opened.root, opened.store, opened.log
    available = load_tools(tools)
    server = MCPServer("vitron-agent", instructions=(
        "Vision tools: generate, segment and edit images and videos. Images and videos are artifact ids; "
        "import_media turns a file path into one. A tool that changes things answers with a decision to approve "
        "(approve_decision) before it runs."))

    def run(tool: Any, record: dict[str, Any], decision_id: str) -> str:
        try:
            result = run_logged(tool, record, decision_id, opened)
        except ToolFailed as error:  # recorded by run_logged, then told to the client as the tool's error
            raise ToolError(str(error)) from None
        made = [store.get(artifact_id).brief() for artifact_id in result.artifacts]
        return json.dumps({"status": "done", "text": result.text, "artifacts": made})

    def register(tool: Any) -> None:
        def call(**arguments: Any) -> str:
            try:
                record = call_arguments(tool.Args.model_validate(arguments))
            except ValueError as error:  # pydantic's ValidationError included: the client sees what to fix
                raise ToolError(str(error)) from None
            if policy == "ask" and tool.side_effects:
                decision = outside_decision(THREAD, tool, record, action="propose", by="mcp client")
                log.record(THREAD, decision)
                runs_on = describe_call(tool, record, root)
                ready = check(runs_on, root) if runs_on is not None else Readiness()
                message = NEEDS_APPROVAL.format(tool=tool.name, id=decision["id"])
                return json.dumps({"status": "needs_approval", "decision": decision["id"], "tool": tool.name,
                                   "args": record, "summary": summary(tool.name, record),
                                   "runs_on": runs_on.backend if runs_on else None, "can_run": ready.can_run,
                                   "readiness": ready.model_dump(),
                                   "message": f"{ready.line(tool.name)} {message}".strip()})
            decision = outside_decision(THREAD, tool, record, action="approve", by=f"policy: {policy}")
            log.record(THREAD, decision)
            return run(tool, record, decision["id"])

        call.__signature__ = _signature(tool.Args)  # type: ignore[attr-defined]
        effect = (" Answers with a decision to approve first." if tool.side_effects and policy == "ask" else "")
        server.add_tool(call, name=tool.name, description=f"{tool_description(tool)}{effect}",
                        meta={"side_effects": tool.side_effects})

    for tool in available.values():
        register(tool)

    @server.tool()
    def approve_decision(decision: str) -> str:
        """Run a proposed call, as it was shown (the decision id from a tool's needs_approval answer)."""
        proposal = log.get(decision)
        if proposal is None or proposal.get("action") != "propose":
            raise ToolError(f"there is no proposed decision {decision!r}; call the tool first")
        if proposal["outcome"] is not None:
            raise ToolError(f"decision {decision!r} was already {proposal['outcome']}")
        tool = available[proposal["tool"]]
        approval = {"id": f"{decision}/approve", "tool": tool.name, "module": proposal.get("module"),
                    "args": proposal["args"], "action": "approve", "by": "mcp client", "proposal": decision}
        log.record(THREAD, approval)
        log.finish(decision, "approved", (), "approved by the MCP client")
        return run(tool, proposal["args"], approval["id"])

    @server.tool()
    def reject_decision(decision: str, reason: str = "") -> str:
        """Drop a proposed call; nothing runs."""
        proposal = log.get(decision)
        if proposal is None or proposal.get("action") != "propose" or proposal["outcome"] is not None:
            raise ToolError(f"there is no open proposed decision {decision!r}")
        log.finish(decision, "rejected", (), reason or "rejected by the MCP client")
        return json.dumps({"status": "rejected", "decision": decision})

    @server.tool()
    def import_media(path: str) -> str:
        """Bring an image or video file (inside the server's folder or workspace) into the store; answers with
        its artifact id, for the tools' image or video argument."""
        try:
            artifact = store.import_file(path)
        except (ValueError, OSError) as error:  # MediaError and PathOutsideWorkspace are ValueErrors
            raise ToolError(str(error)) from None
        return json.dumps({"id": artifact.id, "kind": artifact.kind, "width": artifact.meta["width"],
                           "height": artifact.meta["height"]})

    return server


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
                                            annotation=Annotated[field.annotation, *field.metadata, described]))
    return inspect.Signature(parameters, return_annotation=str)
