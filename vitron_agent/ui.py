"""Rich rendering for the terminal: decision panels, results, tables, progress bars and the doctor's report.

Only rendering lives here: each function turns the project's own data (a decision as the graph shows it,
artifacts, decision-log entries, a doctor report) into a rich renderable; the terminal loop decides when to print
them. Nothing here reads input or changes state.

Usage::

    console = Console()
    console.print(decision_panel(turn.pending, preview=store.get(turn.pending.current.preview).path))
    with ProgressView(console) as on_progress:
        session.on_progress = on_progress
        turn = session.approve()
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.color import Color
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.style import Style
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from vitron_agent.artifacts import Artifact, ArtifactStore
    from vitron_agent.choices import Choice
    from vitron_agent.decisions import Decision, LogEntry, StepView
    from vitron_agent.doctor import DoctorReport
    from vitron_agent.readiness import Readiness

__all__ = [
    "CANDIDATE_COLUMNS",
    "CHOICE_KEYS",
    "DECISION_KEYS",
    "HISTORY_COLUMNS",
    "PLAN_KEYS",
    "THUMBNAIL_COLUMNS",
    "ProgressView",
    "artifact_line",
    "history_row",
    "artifacts_table",
    "can_show_thumbnails",
    "candidates_view",
    "decision_panel",
    "doctor_view",
    "history_table",
    "lineage_tree",
    "plan_table",
    "result_view",
    "shown_path",
    "thumbnail",
]

DECISION_KEYS = "[bold]a[/] approve (Enter)  [bold]e[/] edit  [bold]r[/] reject with a correction  [bold]c[/] cancel"
PLAN_KEYS = ("[bold]a[/] approve (Enter)  [bold]e N[/] edit step N  [bold]d N[/] drop step N  [bold]r[/] reject  "
             "[bold]c[/] cancel")
CHOICE_KEYS = "[bold]1[/]-[bold]{count}[/] or [bold]/choose N[/] picks one; the others stay in the store, not chosen"
THUMBNAIL_COLUMNS = 40
CANDIDATE_COLUMNS = 20
"""A candidate's thumbnail width: four cards side by side fit a 100-column terminal."""


def shown_path(path: Path) -> str:
    """A path as a person wants to read it: relative to the current folder when it lies inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def can_show_thumbnails(console: Console) -> bool:
    """Inline thumbnails need a real terminal with at least 256 colours."""
    return console.is_terminal and console.color_system in ("256", "truecolor")


def thumbnail(path: Path, columns: int = THUMBNAIL_COLUMNS) -> Text:
    """An image (or a video's first frame) drawn with half-block characters: each character cell shows two
    pixels, one above the other.

    Raises:
        MediaError: the file is not a readable image.
    """
    from vitron_agent.media import IMAGE_SUFFIXES, load_frame, load_image

    image = load_image(path) if path.suffix.lower() in IMAGE_SUFFIXES else load_frame(path, 0)
    rows = max(1, round(columns * image.height / image.width / 2))
    pixels = image.convert("RGB").resize((columns, rows * 2)).load()
    text = Text()
    for row in range(rows):
        for column in range(columns):
            top, bottom = pixels[column, 2 * row], pixels[column, 2 * row + 1]
            text.append("▀", Style(color=Color.from_rgb(*top), bgcolor=Color.from_rgb(*bottom)))
        text.append("\n")
    return text


def decision_panel(decision: Decision, *, preview: Path | None = None, picture: Text | None = None,
                   keys: str = DECISION_KEYS) -> Panel:
    """One decision as the person reviews it: what the planner said, the call's arguments (edited ones marked),
    what will run and whether it can run here, the region drawn on the image, notes, the plan when there are
    several steps, and why the last answer was not applied, if it was not.

    Args:
        decision: the decision waiting (``Turn.pending``).
        preview: the file of the region preview artifact, when there is one.
        picture: an inline thumbnail of the preview, where the terminal can show one.
        keys: the line under the panel saying how to answer.
    """
    step = decision.current
    parts: list[RenderableType] = []
    if decision.response:
        parts.append(Text(decision.response, style="italic"))
    rows = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    rows.add_column(no_wrap=True)
    rows.add_column(overflow="fold")
    for name, value in step.args.items():
        rows.add_row(Text(name, style="bold cyan"), _value(value, edited=name in step.changed))
    rows.add_row(Text("runs on", style="dim"), Text(step.backend or "the tool did not say"))
    if step.readiness.status != "ready":
        rows.add_row(Text("here", style="dim"), _readiness_text(step.readiness))
    if preview is not None:
        rows.add_row(Text("preview", style="dim"), Text(shown_path(preview)))
    for note in step.notes:
        rows.add_row(Text("note", style="dim"), Text(note))
    parts.append(rows)
    if picture is not None:
        parts.append(picture)
    if len(decision.steps) > 1:
        parts.append(plan_table(decision.steps, decision.asking))
        if keys == DECISION_KEYS:
            keys = PLAN_KEYS
    if decision.error:
        parts.append(Text(decision.error if decision.failed else f"That change was not applied: {decision.error}",
                          style="bold red"))
    module = f"{step.module} {step.module_name} · " if step.module else ""
    where = f"step {step.number} of {len(decision.steps)} · " if len(decision.steps) > 1 else ""
    return Panel(
        Group(*parts),
        title=f"[bold]decision[/] · {where}{escape(module)}[bold]{escape(step.tool)}[/]",
        title_align="left",
        subtitle=keys,
        subtitle_align="left",
        border_style="red" if decision.error or not decision.can_run else "blue",
    )


def _readiness_text(readiness: Readiness) -> Text:
    """Whether the call can run on this machine, and the fix when it can't."""
    if readiness.status == "ready":
        return Text("ready", style="green")
    if readiness.status == "downloads":
        return Text.assemble(("downloads its weights first", "yellow"),
                             f": {readiness.reason}. To fetch them now: {readiness.fix}")
    return Text.assemble(("can't run here", "bold red"), f": {readiness.reason}. To fix: {readiness.fix}. You can "
                         "still edit, reject or cancel it; approving it only records that it failed.")


def plan_table(steps: Sequence[StepView], asking: Sequence[int] = ()) -> Table:
    """A plan's steps: number, what each does, and how far it got (the steps waiting for this answer marked)."""
    table = Table(title="plan", title_justify="left", show_edge=False, header_style="bold")
    for column in ("#", "step", "status", "result"):
        table.add_column(column, overflow="fold")
    for step in steps:
        status = step.status
        if step.number in asking:
            status = "[bold]asking[/]" if status == "planned" else f"[bold]{status}, asking[/]"
        if not step.readiness.can_run and step.status in ("planned", "failed"):
            status += " [red](can't run here)[/]"
        table.add_row(str(step.number), Text(step.summary), status, Text(step.message))
    return table


def result_view(text: str, artifacts: Sequence[Artifact]) -> RenderableType:
    """What a turn ended with: the answer, then the artifacts it made."""
    if not artifacts:
        return Text(text or "(no answer)")
    return Group(Text(text), artifacts_table(artifacts, title=None))


def candidates_view(choice: Choice, candidates: Sequence[Artifact],
                    pictures: Sequence[Text | None] = ()) -> RenderableType:
    """A step's candidates side by side, numbered, each with its seed and id (and its thumbnail, where the
    terminal can show one), then how to pick."""
    from rich.columns import Columns

    cards = []
    for number, artifact in enumerate(candidates, start=1):
        picture = pictures[number - 1] if number <= len(pictures) else None
        if picture is not None:
            picture = picture.copy()
            picture.rstrip()  # the thumbnail's last line break: the caption follows at once
        caption = Text.assemble((f"{number}", "bold"), f" · seed {artifact.seed}\n{artifact.id}")
        cards.append(Panel(Group(picture, caption) if picture is not None else caption, expand=False))
    heading = Text(choice.error or choice.as_text(), style="yellow" if choice.error else "")
    return Group(heading, Columns(cards), Text.from_markup(CHOICE_KEYS.format(count=len(candidates))))


def artifact_line(item: Artifact) -> str:
    """One artifact in a lineage: kind and id, the call that made it (or "attached"), seed, model, and whether it was
    the chosen candidate; shared by the terminal's tree and the web page's."""
    call = item.call or {}
    parts = [f"{item.kind} {item.id}", call.get("tool") or "attached"]
    if item.seed is not None:
        parts.append(f"seed {item.seed}")
    if item.model_id:
        parts.append(Path(item.model_id).name if "/" in item.model_id and Path(item.model_id).is_absolute()
                     else item.model_id)
    if item.meta.get("candidate"):
        chosen = {True: ", chosen", False: ", not chosen"}.get(item.chosen, "")
        parts.append(f"candidate {item.meta['candidate']} of {item.meta.get('candidates')}{chosen}")
    return " · ".join(parts)


def lineage_tree(store: ArtifactStore, artifact: Artifact) -> RenderableType:
    """Where a result came from, as a tree: the result at the root, each node's parents below it, each with the
    call, seed and model that made it (or that it was attached), and whether it was a chosen candidate."""
    from rich.tree import Tree

    def label(item: Artifact) -> Text:
        return Text(artifact_line(item))

    drawn = {artifact.id}

    def grow(node: Tree, item: Artifact) -> None:
        for parent_id in item.parents:
            parent = store.get(parent_id)
            if parent_id in drawn:  # a result used twice (an image and its own mask): its lineage once
                node.add(Text(f"{parent.kind} {parent.id} (above)", style="dim"))
                continue
            drawn.add(parent_id)
            grow(node.add(label(parent)), parent)

    tree = Tree(label(artifact))
    grow(tree, artifact)
    return tree


def artifacts_table(artifacts: Iterable[Artifact], *, title: str | None = "artifacts") -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for column in ("id", "kind"):
        table.add_column(column, no_wrap=True)
    for column in ("path", "made from", "by"):
        table.add_column(column, overflow="fold")
    for artifact in artifacts:
        made_by = (artifact.call or {}).get("tool") or "attached"
        table.add_row(artifact.id, artifact.kind, Text(shown_path(artifact.path)), ", ".join(artifact.parents),
                      Text(made_by))
    return table


HISTORY_COLUMNS = ("#", "tool", "decided", "by", "outcome", "artifacts", "message")


def history_row(number: int, entry: LogEntry) -> list[str]:
    """One decision of the log as the cells of :data:`HISTORY_COLUMNS` (the terminal's table, the page's)."""
    outcome = entry.outcome or ("-" if entry.action != "approve" else "not run")
    if entry.undone:
        outcome += " (undone)"
    edited = f" ({', '.join(entry.changed)} edited)" if entry.changed else ""
    return [str(number), entry.tool, f"{entry.action}{edited}", entry.by, outcome, ", ".join(entry.artifacts),
            entry.message or entry.feedback or ""]


def history_table(entries: Iterable[LogEntry]) -> Table:
    """The thread's decisions and what came of them, oldest first."""
    table = Table(title="decisions", title_justify="left", show_edge=False, header_style="bold")
    for column in HISTORY_COLUMNS:
        table.add_column(column, overflow="fold")
    for number, entry in enumerate(entries, start=1):
        table.add_row(*(Text(cell) for cell in history_row(number, entry)))
    return table


def doctor_view(report: DoctorReport) -> RenderableType:
    from vitron_agent.models import human_bytes

    machine = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    machine.add_column(style="bold", no_wrap=True)
    machine.add_column()
    device = report.device
    memory = f", {human_bytes(device.memory)}" if device.memory else ""
    machine.add_row("python", report.python)
    machine.add_row("device", f"{device.device} ({device.name}{memory}; {device.source})")
    machine.add_row("memory budget", f"{human_bytes(device.budget)} per device (VITRON_MEMORY_BUDGET to change)")
    machine.add_row("workspace", str(report.workspace))
    machine.add_row("planner", report.planner)
    machine.add_row("hub", "offline (HF_HUB_OFFLINE)" if report.hub_offline else "online: missing weights download "
                    "on first use")
    machine.add_row("tools run", report.execution if report.cluster is None else
                    f"{report.execution}, which can't be asked now: {report.cluster}")
    versions = Table(title="packages", title_justify="left", show_edge=False, header_style="bold")
    versions.add_column("package")
    versions.add_column("version")
    for name, version in report.versions.items():
        versions.add_row(name, version or "[yellow]not installed[/]")
    tools = Table(title="tools", title_justify="left", show_edge=False, show_header=False, box=None,
                  padding=(0, 2, 1, 0))
    tools.add_column(no_wrap=True, style="bold")
    tools.add_column(overflow="fold")
    for tool in report.tools:
        weights = Text(", ").join(
            Text.assemble(("present ", "green"), f"{check.family} ({check.path})") if check.path
            else Text.assemble(("missing ", "yellow"), f"{check.family} ({check.source})")
            for check in tool.weights
        ) or Text("none needed")
        details = Text("\n").join([_doctor_readiness(tool.readiness), Text.assemble(("runs on  ", "dim"), tool.runs),
                                   Text.assemble(("weights  ", "dim"), weights)])
        tools.add_row(f"{tool.name} ({tool.module})" if tool.module else tool.name, details)
    ready = sum(tool.ready for tool in report.tools)
    summary = Text(f"{ready} of {len(report.tools)} tools can run here now.")
    fixes = list(dict.fromkeys(tool.readiness.fix.split(" (or ")[0] for tool in report.tools if not tool.ready))
    if fixes:
        summary.append(" For the rest: " + "; then ".join(fixes) + ".")
    served = [Text(), deployments_table(report.deployments)] if report.deployments else []
    return Group(machine, Text(), versions, Text(), tools, *served, Text(), summary)


def deployments_table(found: Sequence[Any]) -> Table:
    """Each model family's Ray Serve deployment: its state, replicas, GPUs, the models loaded and the calls
    waiting for a free worker (on the replica that answered)."""
    table = Table(title="Ray Serve deployments", title_justify="left", show_edge=False, header_style="bold")
    for column in ("family", "status", "replicas", "GPUs", "loaded", "queue"):
        table.add_column(column, overflow="fold")
    for check in found:
        table.add_row(check.family, check.status, str(check.replicas), f"{check.gpus:g}",
                      ", ".join(check.loaded) or "nothing yet", str(check.queue))
    return table


def _doctor_readiness(readiness: Any) -> Text:
    if readiness.status == "ready":
        return Text("ready", style="green")
    if readiness.status == "needs_extra":
        return Text.assemble(("needs an extra", "yellow"), f": {readiness.fix}")
    if readiness.status == "downloads":
        return Text.assemble(("downloads on first use", "yellow"), f": {readiness.reason}; now: {readiness.fix}")
    if readiness.status == "unreachable":
        return Text.assemble(("can't be reached", "yellow"), f": {readiness.reason}; {readiness.fix}")
    return Text.assemble(("needs weights", "yellow"), f": {readiness.reason}; {readiness.fix}")


class ProgressView:
    """A rich progress bar fed by the tools' progress events (``{"tool", "step", "steps", "done", "total",
    "message"}``), one bar per tool run (per step, in a plan).

    Use as a context manager; the object itself is the ``on_progress`` callback. The bar appears with the first
    event, so a turn that runs no tool prints nothing.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> ProgressView:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, event: Mapping[str, Any]) -> None:
        if self._progress is None:
            self._progress = Progress(
                SpinnerColumn(), TextColumn("[bold]{task.fields[tool]}[/] {task.description}"), BarColumn(),
                MofNCompleteColumn(), TimeElapsedColumn(), console=self.console,
            )
            self._progress.start()
        tool = str(event.get("tool", "tool"))
        if int(event.get("steps") or 1) > 1:  # one bar per step of a plan
            tool = f"{event['step']}/{event['steps']} {tool}"
        total = float(event.get("total") or 0) or None
        if tool not in self._tasks:
            self._tasks[tool] = self._progress.add_task(str(event.get("message", "")), total=total, tool=tool)
        self._progress.update(self._tasks[tool], completed=float(event.get("done", 0)), total=total,
                              description=str(event.get("message", "")))


def _value(value: Any, *, edited: bool = False) -> Text:
    if value is None:
        text = Text("default", style="dim")
    elif isinstance(value, Mapping) and set(value) == {"x1", "y1", "x2", "y2"}:
        text = Text(", ".join(f"{value[k]:g}" for k in ("x1", "y1", "x2", "y2")))
    elif isinstance(value, str):
        text = Text(value)
    else:
        text = Text(json.dumps(value, default=str))
    if edited:
        text.append("  (edited)", style="yellow")
    return text
