"""The ``vitron-agent`` console script: ``chat`` (the terminal session), ``run`` (one request, for scripts),
``web`` (the page), ``doctor`` (what this machine can run), ``mcp`` (the tools for MCP clients), and
``serve-tools`` (the tools as Ray Serve deployments).

Only typer is imported at start-up; each command imports what it needs when it runs, so ``--help`` and
``doctor`` never load torch, transformers or diffusers. Every error a person can cause ends as one line on
stderr and a non-zero exit, never a traceback.

Exit codes of ``run``: 0 done (or answered in words), 1 an error or a tool that failed or was cancelled (a
failed step of a plan is not retried by ``--yes``), 3 a decision waits for approval (rerun with ``--yes``).

Usage::

    vitron-agent chat examples/media/motorcycle.jpg
    vitron-agent run "segment the motorcycle" examples/media/motorcycle.jpg --region 60,90,580,380 --yes --json
    vitron-agent doctor
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from vitron_agent.artifacts import Artifact
    from vitron_agent.regions import Box
    from vitron_agent.session import Session, Turn

__all__ = ["NEEDS_APPROVAL", "app", "main"]

NEEDS_APPROVAL = 3
"""``run``'s exit code when a decision waits for approval."""
MAX_APPROVALS = 20
"""``run --yes`` approves at most this many decisions in one request (a guard against a planner loop)."""

app = typer.Typer(
    name="vitron-agent",
    help="Turn a vision LLM's decisions into checked, reversible work on images and videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_VERBOSE = {"on": False}
"""--verbose, as the app's callback read it: tracebacks of failures on the terminal too"""


@app.callback()
def _options(verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show failures' details (tracebacks) on the terminal as well as in the workspace's "
                                "vitron-agent.log.")] = False) -> None:
    """Turn a vision LLM's decisions into checked, reversible work on images and videos."""
    _VERBOSE["on"] = verbose


Media = Annotated[list[Path] | None, typer.Argument(help="Images or videos to attach.", show_default=False)]
Workspace = Annotated[Path, typer.Option(
    "--workspace", "-w", envvar="VITRON_WORKSPACE",
    help="Folder for artifacts, decisions and checkpoints (created if missing).",
)]
PlannerSpec = Annotated[str | None, typer.Option(
    "--planner", "-p",
    help="rules (offline), vitron:<path or hub id>, or chat:<provider>:<model>. Default: VITRON_PLANNER, "
         "then the planner spec in the workspace's vitron.toml, then rules.",
    show_default=False,
)]
PolicyText = Annotated[str, typer.Option(
    "--policy",
    help="ask: every tool that changes something waits for approval (a plan as a whole); step: and each step of "
         "a plan again; auto: run without asking; or tool names, comma-separated, that must ask.",
)]
Region = Annotated[str | None, typer.Option(
    "--region", "-r", help="A box x1,y1,x2,y2 in pixels of the last media file.", show_default=False,
)]
DEFAULT_WORKSPACE = Path("vitron-workspace")


@dataclass
class _Opened:
    """A session ready for the person, with what was named on the command line."""

    session: Session
    planner: str
    attachments: list[Artifact]
    region: Box | None


class CliError(Exception):
    """A problem to report in one line before exiting with status 1."""


@app.command()
def chat(
    media: Media = None,
    workspace: Workspace = DEFAULT_WORKSPACE,
    planner: PlannerSpec = None,
    policy: PolicyText = "ask",
    resume: Annotated[str | None, typer.Option(help="Continue this thread (its id is printed when you leave).",
                                               show_default=False)] = None,
    region: Region = None,
    thumbnails: Annotated[bool, typer.Option(help="Draw small inline previews where the terminal can.")] = True,
    read_only: Annotated[bool, typer.Option(
        "--read-only", help="Only read the workspace's history, plans and artifacts (/history, /plan, /artifacts); "
                            "for a workspace on a full or read-only disk. Nothing is written.")] = False,
) -> None:
    """Talk to vitron-agent in the terminal: every decision is shown, and waits for you, before it runs."""
    from rich.console import Console

    from vitron_agent.terminal import PERSON_ERRORS, Terminal

    console = Console()
    with _one_line_errors(console, PERSON_ERRORS):
        opened = _open(workspace, planner, policy, resume, media or [], region, read_only=read_only)
    Terminal(opened.session, console, attachments=opened.attachments, region=opened.region,
             planner=opened.planner, thumbnails=thumbnails).loop()


@app.command()
def run(
    request: Annotated[str, typer.Argument(help="What you want done, in words.")],
    media: Media = None,
    workspace: Workspace = DEFAULT_WORKSPACE,
    planner: PlannerSpec = None,
    policy: PolicyText = "ask",
    region: Region = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve the decisions instead of stopping at them.")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object: decisions, artifacts, text.")]
    = False,
) -> None:
    """Do one request without questions: print the decision and stop (exit 3), or with --yes run it."""
    from rich.console import Console

    from vitron_agent.terminal import PERSON_ERRORS, ctrl_c_cancels
    from vitron_agent.ui import ProgressView

    console, progress_console = Console(), Console(stderr=True)
    with _one_line_errors(progress_console, PERSON_ERRORS):
        opened = _open(workspace, planner, policy, None, media or [], region)
        session = opened.session
        known = len(session.history())
        made: list[Artifact] = []
        with ProgressView(progress_console) as progress, ctrl_c_cancels(session, progress_console):
            session.on_progress = progress
            turn = session.send(request, attachments=opened.attachments, region=opened.region)
            made += turn.artifacts
            for _ in range(MAX_APPROVALS):
                if turn.pending is None or not yes or turn.pending.failed:
                    break  # a failed step is not retried blindly: the person decides (chat --resume)
                turn = session.approve(turn.pending)
                made += turn.artifacts
        decisions = session.history()[known:]
    if as_json:
        print(json.dumps({"thread": session.thread_id, "decisions": [d.model_dump(mode="json") for d in decisions],
                          "pending": turn.pending.model_dump(mode="json") if turn.pending else None,
                          "choice": turn.choice.model_dump(mode="json") if turn.choice else None,
                          "artifacts": [_artifact_json(a) for a in made], "text": turn.text}, indent=2))
    else:
        _print_run(console, session, turn, made)
    if turn.pending is not None or turn.choice is not None:
        raise typer.Exit(1 if turn.pending is not None and turn.pending.failed else NEEDS_APPROVAL)
    if any(d.outcome in ("failed", "cancelled", "interrupted") for d in decisions):
        raise typer.Exit(1)


@app.command()
def doctor(workspace: Workspace = DEFAULT_WORKSPACE) -> None:
    """Versions, device, memory budget, and for every tool what would run and whether its weights are here."""
    from rich.console import Console

    from vitron_agent.doctor import diagnose
    from vitron_agent.ui import doctor_view

    console = Console()
    with _one_line_errors(console, (ValueError, OSError)):
        console.print(doctor_view(diagnose(workspace)))


@app.command()
def pull(
    families: Annotated[list[str] | None, typer.Argument(
        help="Weights families to fetch (sd, inpaint, sam2, ...). Default: every family the tools use that is "
             "not here yet.", show_default=False)] = None,
    workspace: Workspace = DEFAULT_WORKSPACE,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be fetched, and how large it is, "
                                                             "without fetching.")] = False,
) -> None:
    """Fetch the weights this workspace's tools need, through huggingface_hub, into its cache (HF_HOME)."""
    from rich.console import Console

    from vitron_agent.pull import PullError
    from vitron_agent.weights import hub_installed

    console = Console(stderr=True)
    with _one_line_errors(console, (PullError, ValueError, OSError)):
        if not hub_installed():
            raise CliError("pull needs huggingface_hub, which comes with the vision extra: "
                           "pip install 'vitron-agent[vision]'")
        from huggingface_hub.utils import logging as hub_logging

        hub_logging.set_verbosity_error()  # its retries and resumes are ours to report, in one line
        _pull(Console(), workspace.expanduser().resolve(), families or [], dry_run)


@app.command()
def mcp(
    workspace: Workspace = DEFAULT_WORKSPACE,
    policy: Annotated[str, typer.Option(
        help="ask: a call that changes things answers with a decision to approve (approve_decision); auto: it runs "
             "at once.")] = "ask",
    import_root: Annotated[list[Path] | None, typer.Option(
        "--import-root", help="A folder import_media may read, besides the workspace (repeat for more); never / "
                              "or your home folder. Without it only the workspace is read.",
        show_default=False)] = None,
) -> None:
    """Serve the vision tools over MCP (stdio), for MCP clients; changes wait for approve_decision."""
    from rich.console import Console

    try:
        from vitron_agent.mcp_server import build_server
        import mcp.server.mcpserver  # noqa: F401  (the 2.x SDK)
    except ImportError:
        typer.echo("error: the MCP server needs the mcp SDK 2.x: pip install 'vitron-agent[mcp]'", err=True)
        raise typer.Exit(1) from None
    if policy not in ("ask", "auto"):
        raise typer.BadParameter("write ask or auto", param_hint="--policy")
    with _one_line_errors(Console(stderr=True), (ValueError, OSError)):
        server = build_server(workspace, policy=policy, import_roots=import_root or ())
    server.run("stdio")


@app.command()
def web(
    media: Media = None,
    workspace: Workspace = DEFAULT_WORKSPACE,
    planner: PlannerSpec = None,
    policy: PolicyText = "ask",
    host: Annotated[str, typer.Option(help="The address to bind; anything but this machine needs --auth.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to serve on.")] = 7860,
    auth: Annotated[list[str] | None, typer.Option(
        help="USER:PASS, asked for by the page (required off 127.0.0.1); repeat for more people: each then sees "
             "only their own threads and the ones shared with them.", show_default=False)] = None,
    users: Annotated[Path | None, typer.Option(help="A file of USER:PASS lines, read as --auth (also by the "
                                                    "LangGraph server, through VITRON_USERS).",
                                               show_default=False)] = None,
) -> None:
    """Open the web page: the conversation, the pixels to point at, and every decision before it runs."""
    from rich.console import Console

    from vitron_agent.web.server import WebError, check_address

    console = Console(stderr=True)
    with _one_line_errors(console, (WebError,)):
        login = check_address(host, auth, users)
    try:
        import gradio  # noqa: F401
    except ImportError:
        typer.echo("error: the page needs Gradio: pip install 'vitron-agent[web]'", err=True)
        raise typer.Exit(1) from None
    from vitron_agent.terminal import PERSON_ERRORS
    from vitron_agent.web.server import launch, open_hub

    with _one_line_errors(console, PERSON_ERRORS):
        hub = open_hub(workspace, planner, policy=_policy(policy), media=media or [], logins=login)
    _log_to(hub.workspace, console="lines")
    console.print(f"vitron-agent web · workspace {hub.workspace.root} · open http://{host}:{port}", highlight=False,
                  soft_wrap=True)
    with _one_line_errors(console, (OSError,)):
        launch(hub, host=host, port=port, login=login, quiet=True)


@app.command("serve-tools")
def serve_tools(
    family: Annotated[list[str] | None, typer.Option(
        "--family", help="A model family to deploy (sam2, sd, inpaint, pix2pix, t2v, i2v, vitron; repeat for "
                         "more). "
                         "Default: all of them.", show_default=False)] = None,
    workspace: Workspace = DEFAULT_WORKSPACE,
    wait: Annotated[float, typer.Option(help="Seconds to wait for each family's replicas to start.")] = 300,
) -> None:
    """Deploy the vision tools on the Ray cluster of [execution] address: one Ray Serve deployment per model
    family, placed and scaled by [execution.<family>]. With address "local" it starts Ray here and serves until
    Ctrl-C."""
    from rich.console import Console

    from vitron_agent.execution import FAMILIES, Execution

    console = Console(stderr=True)
    with _one_line_errors(console, (ValueError, OSError)):
        execution = Execution.of(workspace.expanduser().resolve())
        unknown = sorted(set(family or ()) - set(FAMILIES))
        if unknown:
            raise CliError(f"no model family {', '.join(unknown)}; the families are {', '.join(FAMILIES)}")
        from vitron_agent.ray_execution import RAY_EXTRA, RAY_MISSING, connect, deploy, deployments

        why = connect(execution.address)
        if why == RAY_MISSING:
            raise CliError(f"serve-tools needs Ray Serve, which is not installed: {RAY_EXTRA}")
        if why:
            raise CliError(f"the Ray cluster at {execution.address} can't be reached ({why}); start one with "
                           "ray start --head, or set [execution] address")
        waiting = deploy(execution, family or list(FAMILIES), wait_s=wait)
        from vitron_agent.ui import deployments_table

        Console().print(deployments_table(deployments(execution)[1]))
        if waiting:
            raise CliError(f"{', '.join(waiting)} did not start within {wait:g} s: the cluster has no room for "
                           "their replicas yet (see [execution.<family>] num_cpus and num_gpus); they start when "
                           "it has")
    if execution.address == "local":
        console.print("serving on the Ray instance started here; Ctrl-C stops it")
        try:
            import threading

            threading.Event().wait()
        except KeyboardInterrupt:
            pass


def main() -> None:
    """The console script's entry point."""
    app()


# -- shared by the commands ---------------------------------------------------------------------------------------


def _open(workspace: Path, planner_spec: str | None, policy: str, resume: str | None, media: list[Path],
          region: str | None, *, read_only: bool = False) -> _Opened:
    """Build the planner and session, and import the media the person named (their folders are granted)."""
    from vitron_agent.planners.choose import configured_spec, planner_from_spec
    from vitron_agent.regions import parse_box
    from vitron_agent.session import Session
    from vitron_agent.workspace import Workspace

    if read_only and media:
        raise CliError("--read-only reads the workspace as it is; media can't be attached to it")
    opened = Workspace(workspace, import_roots=[Path.cwd()], read_only=read_only)
    _log_to(opened)
    spec = planner_spec or configured_spec(opened)
    session = Session(opened, planner_from_spec(spec, workspace=opened), policy=_policy(policy), thread_id=resume)
    if resume is not None and not session.exists():
        raise CliError(f"there is no thread {resume!r} in {opened.root}; {_known_threads(session)}")
    attachments = [session.store.import_file(path, grant=True) for path in media]
    box = parse_box(region) if region else None
    if box is not None and attachments:
        box, note = box.clipped((attachments[-1].meta["width"], attachments[-1].meta["height"]))
        if note:
            print(note, file=sys.stderr)
    return _Opened(session, spec, attachments, box)


def _log_to(opened: Any, console: str = "none") -> None:
    """Failures' details to the workspace's log file (and the terminal with --verbose), never a bare traceback."""
    from vitron_agent.logs import to_workspace

    if not opened.read_only:
        to_workspace(opened.root, verbose=_VERBOSE["on"], console=console)  # type: ignore[arg-type]


def _pull(console: Console, workspace: Path, names: list[str], dry_run: bool) -> None:
    """Say what each family is and where it is; fetch the missing ones (or, with ``dry_run``, size them)."""
    from vitron_agent.models import human_bytes
    from vitron_agent.pull import download, listing, plan
    from vitron_agent.weights import hub_offline

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    targets = plan(workspace, names)
    missing = [target for target in targets if target.present is None]
    for target in targets:
        where = f"present at {target.present}" if target.present else "missing"
        say(f"{target.family.name}: {target.spec.source} ({where})")
    local = [target for target in missing if target.spec.local]
    if local:
        spec = local[0].spec
        raise CliError(f"{spec.name} is configured as {spec.source}, which does not exist; point "
                       f"[weights.{spec.name}] source (or VITRON_WEIGHTS_{spec.name.upper()}) at a folder or file "
                       "that exists, or at a repo id")
    if not missing:
        say("Everything asked for is here.")
        return
    wanted = ", ".join(f"{t.family.name} ({t.spec.source})" for t in missing)
    if hub_offline():
        if dry_run:
            say(f"Would fetch {wanted}; sizes unknown: HF_HUB_OFFLINE is set.")
            return
        raise CliError(f"HF_HUB_OFFLINE is set, so nothing can be fetched; would fetch {wanted}. Run this on a "
                       "machine with network and without HF_HUB_OFFLINE (the cache can then be copied).")
    for target in missing:
        files = listing(target.spec)
        sizes = [size for _, size in files if size is not None]
        total = human_bytes(sum(sizes)) if len(sizes) == len(files) else "size unknown"
        if dry_run:
            say(f"would fetch {target.family.name}: {len(files)} files, {total}")
            for path, size in files:
                say(f"  {path}  {human_bytes(size) if size is not None else 'size unknown'}")
            continue
        say(f"fetching {target.family.name}: {len(files)} files, {total}")
        folder = download(target.spec, [path for path, _ in files])
        say(f"{target.family.name}: fetched to {folder}")


def _policy(text: str) -> Any:
    text = text.strip()
    if text in ("ask", "step", "auto"):
        return text
    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise typer.BadParameter("write ask, auto, or tool names separated by commas", param_hint="--policy")
    return names


def _known_threads(session: Session) -> str:
    threads = session.threads()
    return f"threads there: {', '.join(threads[:10])}" if threads else "it holds no threads yet"


@contextmanager
def _one_line_errors(console: Console, errors: tuple[type[Exception], ...]) -> Iterator[None]:
    """A person's mistake (bad media, a path outside the workspace, a bad region or planner) exits with one line.

    Args:
        errors: what counts as a person's mistake here (the terminal's ``PERSON_ERRORS`` where a session runs;
            the doctor names plain ones, so it need not import the session's stack to catch them).
    """
    from rich.markup import escape

    try:
        yield
    except (CliError, *errors) as error:
        console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _print_run(console: Console, session: Session, turn: Turn, made: list[Artifact]) -> None:
    from vitron_agent.ui import decision_panel, result_view

    if turn.pending is None:
        console.print(result_view(turn.text, made), soft_wrap=not made)  # a text answer stays one line
        if turn.choice is not None:
            console.print(f"Waiting for a choice (exit {NEEDS_APPROVAL}): pick one with vitron-agent chat --resume "
                          f"{session.thread_id}", highlight=False, soft_wrap=True)
        return
    preview = turn.pending.current.preview
    console.print(decision_panel(turn.pending, preview=session.store.local_path(preview) if preview else None,
                                 keys="not run"))
    console.print(f"Not run (exit {NEEDS_APPROVAL}): add --yes to approve it, or review it with "
                  f"vitron-agent chat --resume {session.thread_id}", highlight=False, soft_wrap=True)


def _artifact_json(artifact: Artifact) -> dict[str, Any]:
    return {**artifact.brief(), "media_type": artifact.media_type, "parents": list(artifact.parents)}
