"""Read and write Vitron's output format.

Vitron answers in free text and, when it wants a backend to act, appends tags::

    Sure, I'll focus on the zebra that is the farthest from us.
    <module>B</module> <instruction>segmentation: zebra farthest from you</instruction>

optionally with ``<region>x1, y1, x2, y2</region>`` (in its 224 x 224 model frame), several instructions (video
editing sends foreground and background), and stray tags such as ``<SP>`` or ``</s>``.

Vitron's own demo reads this with three regexes; a missing closing tag, a second module or a ``:`` inside the
text silently does the wrong thing there. :func:`parse_invocation` reads the tags in one linear pass, never
raises, and records every repair or omission in ``Invocation.problems`` so the next layer can tell the planner
what went wrong. :meth:`Invocation.to_vitron_text` writes the canonical form back.

Usage::

    inv = parse_invocation("Sure. <module>B</module> <instruction>segmentation: zebra</instruction>")
    inv.module.tool      # 'segment_image'
    inv.commands[0].text # 'zebra'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import cache
from math import isfinite
from typing import NamedTuple

__all__ = ["Command", "Invocation", "Module", "parse_invocation"]


class Module(str, Enum):
    """Vitron's backend modules, valued by the letter the model emits."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"
    G = "G"

    @property
    def tool(self) -> str:
        """The name of the built-in tool that serves this module (declared in that tool's own file)."""
        from vitron_agent.tools import builtin_tools

        return next(tool.name for tool in builtin_tools().values() if tool.module is self)

    @property
    def human_name(self) -> str:
        """What the module does, in Vitron's words."""
        return _HUMAN_NAMES[self]


_HUMAN_NAMES: dict[Module, str] = {
    Module.A: "image generation",
    Module.B: "image segmentation",
    Module.C: "image editing",
    Module.D: "video generation",
    Module.E: "video segmentation",
    Module.F: "video editing",
    Module.G: "image-to-video",
}

_BY_LETTER: dict[str, Module] = {m.value: m for m in Module}
# Names a model might write instead of the letter; accepted with a note. The tools' names join them when first
# needed (see _module_aliases), so parsing stays free of the tools' imports.
_MODULE_ALIASES: dict[str, Module] = {}
for _module, _human in _HUMAN_NAMES.items():
    _MODULE_ALIASES[_human] = _module
    _MODULE_ALIASES[_module.value.lower()] = _module


class Command(NamedTuple):
    """One ``<instruction>task: text</instruction>``: the task name (lower case, may be empty) and its text."""

    task: str
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class Invocation:
    """What a planner said: the reply for the person and, optionally, which module to call with what.

    ``region`` holds the four numbers exactly as emitted (Vitron's 224 x 224 frame, or fractions of the image);
    :mod:`vitron_agent.regions` maps them to pixels. ``problems`` lists, in plain English, everything that was
    malformed, repaired or ignored while reading the text. Equality ignores ``problems``: they describe the text
    an invocation was read from, not the invocation, so a repaired output equals its canonical form.

    A plain frozen dataclass rather than a pydantic model: it is built once per planner output on a hot path,
    and everything in it was already checked by the parser.
    """

    response: str = ""
    module: Module | None = None
    commands: tuple[Command, ...] = ()
    region: tuple[float, float, float, float] | None = None
    problems: tuple[str, ...] = ()

    def __post_init__(self) -> None:  # accept lists from callers; keep tuples so invocations hash
        if type(self.commands) is not tuple:
            object.__setattr__(self, "commands", tuple(self.commands))
        if type(self.problems) is not tuple:
            object.__setattr__(self, "problems", tuple(self.problems))
        if self.region is not None and type(self.region) is not tuple:
            object.__setattr__(self, "region", tuple(self.region))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Invocation):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple:
        return (self.response, self.module, self.commands, self.region)

    @property
    def is_understanding(self) -> bool:
        """True when no module is called: the response is the whole answer."""
        return self.module is None and not self.commands

    def to_vitron_text(self) -> str:
        """Write the canonical Vitron form; ``parse_invocation`` reads it back to an equal invocation."""
        parts = [self.response] if self.response else []
        if self.module is not None:
            parts.append(f"<module>{self.module.value}</module>")
        for command in self.commands:
            parts.append(f"<instruction>{command.task}: {command.text}</instruction>")
        if self.region is not None:
            numbers = ", ".join(_format_number(v) for v in self.region)
            parts.append(f"<region>[{numbers}]</region>")
        return " ".join(parts)


# The parser builds invocations from values it has already checked, many thousands a second; setting the
# slots directly skips the frozen dataclass's per-field object.__setattr__ and __post_init__.
_SET_RESPONSE, _SET_MODULE, _SET_COMMANDS, _SET_REGION, _SET_PROBLEMS = (
    Invocation.__dict__[name].__set__ for name in ("response", "module", "commands", "region", "problems")
)


def _new_invocation(
    response: str,
    module: Module | None,
    commands: tuple[Command, ...],
    region: tuple[float, float, float, float] | None,
    problems: tuple[str, ...],
) -> Invocation:
    invocation = object.__new__(Invocation)
    _SET_RESPONSE(invocation, response)
    _SET_MODULE(invocation, module)
    _SET_COMMANDS(invocation, commands)
    _SET_REGION(invocation, region)
    _SET_PROBLEMS(invocation, problems)
    return invocation


def _format_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


# The scanner's tokens, both starting at "<": a whole well-formed lowercase block with no "<" inside (the common
# case; group 1 its name, group 2 its content), or any single tag (group 3 "/" if closing, group 4 its name),
# which the state machine handles, upper case included. "[^<]*" stops at the first "<", so the scan stays linear
# on any input. No spaces are allowed inside a tag, so text such as "< module>" stays text, and dropping a tag
# (which leaves a space) can never create a new one: the canonical form reads back the same.
_TOKEN = re.compile(r"<(?:(module|instruction|region)>([^<]*)</\1>|(/?)([A-Za-z][A-Za-z0-9_]{0,31})>)")
_STRUCTURE_TAGS = frozenset({"module", "instruction", "region"})
# Whether any structure tag is there at all (any case); in an answer without one, only the model's own special
# tokens are dropped, and words such as "--planner chat:<provider>:<model>" stay as written.
_STRUCTURE = re.compile(r"</?(?:module|instruction|region)>", re.IGNORECASE)
_SPECIAL_TOKEN = re.compile(r"</?(?:s|SP|unk|pad|image|video|im_start|im_end)>")
# A number not glued to a name, so "x1: 10" yields 10, not 1 and 10.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_LEADING_LETTER = re.compile(r"([A-G])(?![A-Za-z0-9_])")  # "B: image segmentation"; never "a dog"
_MAX_PROBLEMS = 20
_MAX_QUOTE = 60


def parse_invocation(text: str) -> Invocation:
    """Read a planner's output in Vitron's format. Never raises.

    Args:
        text: the raw model output, any string (even empty or megabytes of junk).

    Returns:
        An :class:`Invocation`; anything malformed or ignored is described in ``problems``.

    Example:
        >>> parse_invocation("<module>b</module><instruction>segmentation: a: b</instruction>").commands[0].text
        'a: b'
    """
    if not isinstance(text, str):
        return Invocation(problems=(f"expected text, got {type(text).__name__}; nothing was read",))
    if "<" not in text:  # a plain answer: no tags at all
        return _new_invocation(_normalize_response(text), None, (), None, ())
    if _STRUCTURE.search(text) is None:  # a plain answer that mentions <something>: kept as written
        plain = _SPECIAL_TOKEN.sub(" ", text)
        dropped = ("ignored the model's special tokens",) if plain != text else ()
        return _new_invocation(_normalize_response(plain), None, (), None, dropped)
    problems: list[str] = []
    response, contents = _scan_tags(text, problems)
    modules, instructions, regions = contents["module"], contents["instruction"], contents["region"]
    module = _BY_LETTER.get(modules[0]) if len(modules) == 1 else None  # the usual, clean case
    if module is None and modules:
        module = _read_module(modules, problems)
    return _new_invocation(
        _normalize_response(response),
        module,
        _read_commands(instructions, problems) if instructions else (),
        _read_region(regions, problems) if regions else None,
        tuple(problems) if len(problems) <= _MAX_PROBLEMS else _capped(problems),
    )


def _scan_tags(text: str, problems: list[str]) -> tuple[str, dict[str, list[str]]]:
    """One pass over the tags: the response (text outside structure tags) and each structure tag's content,
    with every stray tag dropped and noted.

    ``_TOKEN.split`` hands over the text and each token's groups in one list, ``[text, block, content, closing,
    name, text, ...]``, so the loop below touches no match objects. Wherever a tag is dropped a space is left,
    so words on either side never merge. An unclosed tag ends at the next structure tag or line break,
    whichever comes first; what follows its line break goes back to the response.
    """
    parts = _TOKEN.split(text)
    response = [parts[0]]
    contents: dict[str, list[str]] = {"module": [], "instruction": [], "region": []}
    stray: dict[str, int] = {}
    open_name: str | None = None
    open_parts: list[str] = []
    for index in range(1, len(parts), 5):
        block, content, closing, name, after = parts[index : index + 5]
        if block is not None:
            if open_name is not None:
                _close_unterminated(open_name, open_parts, "next tag", response, contents, problems)
                open_name = None
            contents[block].append(content)
            response.append(after)
            continue
        lowered = name.lower()
        if lowered not in _STRUCTURE_TAGS:
            tag = f"<{closing}{name}>"
            stray[tag] = stray.get(tag, 0) + 1
            (response if open_name is None else open_parts).append(after)
            continue
        name = lowered
        if open_name is not None:
            if closing and name == open_name:
                contents[open_name].append(" ".join(open_parts))
                open_name = None
                response.append(after)
                continue
            _close_unterminated(open_name, open_parts, "next tag", response, contents, problems)
            open_name = None
        if closing:
            problems.append(f"stray </{name}> without a matching <{name}> was ignored")
            response.append(after)
            continue
        open_name, open_parts = name, [after]
    if open_name is not None:
        _close_unterminated(open_name, open_parts, "end of the text", response, contents, problems)
    if stray:
        kinds = list(stray.items())
        listed = ", ".join(f"{tag} x{count}" if count > 1 else tag for tag, count in kinds[:8])
        more = f" and {len(kinds) - 8} other kinds" if len(kinds) > 8 else ""
        problems.append(f"ignored tags that are not part of the format: {listed}{more}")
    return " ".join(response), contents


def _close_unterminated(
    name: str,
    parts: list[str],
    ended_by: str,
    response: list[str],
    contents: dict[str, list[str]],
    problems: list[str],
) -> None:
    joined = " ".join(parts)
    line_end = joined.find("\n")
    if line_end >= 0:
        response.append(joined[line_end:])
        joined, ended_by = joined[:line_end], "line end"
    problems.append(f"<{name}> was not closed; read it up to the {ended_by}")
    contents[name].append(joined)


def _normalize_response(text: str) -> str:
    """Single spaces, no blank runs longer than one line, nothing at either end; applying it twice changes
    nothing, which the round trip relies on."""
    if "\n" not in text:
        return " ".join(text.split())
    kept: list[str] = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        if line or (kept and kept[-1]):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept)


def _quote(text: str) -> str:
    return repr(text if len(text) <= _MAX_QUOTE else text[:_MAX_QUOTE] + "...")


def _read_module(contents: list[str], problems: list[str]) -> Module | None:
    chosen: Module | None = None
    for content in contents:
        module = _module_from_text(content, problems)
        if module is None:
            continue
        if chosen is None:
            chosen = module
        elif module != chosen:
            problems.append(f"several modules were named ({chosen.value} and {module.value}); used {chosen.value}")
        else:
            problems.append(f"module {module.value} was named more than once")
    return chosen


def _module_from_text(content: str, problems: list[str]) -> Module | None:
    value = content.strip()
    module = _BY_LETTER.get(value)
    if module is not None:
        return module
    key = " ".join(value.strip(" .:;,'\"`()[]").split()).lower()
    module = _MODULE_ALIASES.get(key) or _tool_names().get(key)
    if module is None:
        leading = _LEADING_LETTER.match(value)
        module = _BY_LETTER[leading.group(1)] if leading else None
    if module is None:
        letters = ", ".join(m.value for m in Module)
        shown = _quote(value) if value else "nothing"
        problems.append(f"unknown module {shown}; a module is one letter of {letters}")
        return None
    problems.append(f"module written as {_quote(value)}; read it as {module.value}")
    return module


@cache
def _tool_names() -> dict[str, Module]:
    """The built-in tools' names, as a model may write them in place of a module's letter."""
    return {module.tool: module for module in Module}


def _read_commands(contents: list[str], problems: list[str]) -> tuple[Command, ...]:
    commands: list[Command] = []
    for content in contents:
        flat = " ".join(content.split())
        task, colon, rest = flat.partition(":")
        if not colon:
            task, rest = "", flat
        task, rest = task.strip().lower(), rest.strip()
        if not rest:
            problems.append(f"empty instruction {_quote(flat)} was ignored")
            continue
        if not task:
            problems.append(f"instruction {_quote(rest)} names no task (expected 'task: text')")
        commands.append(Command(task, rest))
    return tuple(commands)


def _read_region(contents: list[str], problems: list[str]) -> tuple[float, float, float, float] | None:
    region = None
    for content in contents:
        if region is not None:
            problems.append(f"a second region {_quote(content.strip())} was ignored")
            continue
        numbers = _NUMBER.findall(content)
        if len(numbers) != 4:
            problems.append(f"region {_quote(content.strip())} was ignored: it needs 4 numbers, found {len(numbers)}")
            continue
        x1, y1, x2, y2 = values = tuple(map(float, numbers))
        if not (isfinite(x1) and isfinite(y1) and isfinite(x2) and isfinite(y2)):
            problems.append(f"region {_quote(content.strip())} was ignored: its numbers are not finite")
            continue
        region = values
    return region


def _capped(problems: list[str]) -> tuple[str, ...]:
    return (*problems[:_MAX_PROBLEMS], f"... and {len(problems) - _MAX_PROBLEMS} more problems")
