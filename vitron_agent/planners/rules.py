"""The offline default planner: plain requests mapped to Vitron invocations by rules, with no weights at all.

A machine with no GPU, no weights and no network still needs a planner that does the obvious thing for "cut out
the dog" or "track the rider", and that says plainly when it cannot help instead of guessing. The rules read the
latest request and what is attached: the verb picks the kind of work (segment, track, edit, generate, animate),
the attached media picks the module (an edit on a video is F, on an photo C), and the words after the verb give
the target. A box typed as ``[x1, y1, x2, y2]`` (pixels of the attached media) becomes the invocation's region.

A request in steps ("draw a red car, then cut out the car [10, 20, 200, 180], then animate it") becomes one
invocation per step, in order; each step works on what the step before made (the drawn image, the edited photo),
so the graph turns them into a plan whose later steps use earlier outputs.

The output is Vitron's own text format, so it goes through exactly the same parsing and validation as the
Vitron checkpoint's answers.

Usage::

    planner = RulePlanner()
    planner.plan([HumanMessage("cut out the dog")], [photo], None)
    # 'Segmenting "dog". <module>B</module> <instruction>segmentation: dog</instruction>'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from vitron_agent.invocation import Command, Invocation, Module

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from vitron_agent.calls import Attachment
    from vitron_agent.regions import Box

__all__ = ["CANNOT_MAP", "RulePlanner", "Request", "read_request"]

Media = Literal["image", "video"] | None

CANNOT_MAP = (
    "I'm the offline rule planner: I turn plain requests into tool calls and I don't guess, so I can't {why}. "
    "I can: segment or cut out something in a photo (\"cut out the dog\"), track something in a video (\"track the "
    "rider\"), edit a photo (\"remove the car\", \"make the sky pink\"), change a video's foreground or background "
    "(\"change the background to a beach\"), generate an image (\"draw a fox in the snow\"), make a video (\"make a "
    "video of waves at night\"), and animate a photo (\"animate this photo\"). For questions and free-form requests, "
    "configure an LLM planner: --planner chat:<provider>:<model> or --planner vitron:<path-or-id>."
)

# The graph's own messages to the planner (see graphs/agent.py): a correction after an unusable output, and
# the person's feedback after a rejection.
_GRAPH_CORRECTION = "Your last output could not be used:"
_PERSON_CORRECTION = "Correction from the person:"

_NUMBER = r"-?\d+(?:\.\d+)?"
_TYPED_BOX = re.compile(rf"\[\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\]")

_MEDIA_NOUN = r"(?:image|photo(?:graph)?|picture|pic|frame|shot|snapshot|video|clip|footage|movie|scene)"
_VIDEO_NOUN = r"(?:video|clip|footage|movie|film|animation|gif)"
_IMAGE_NOUN = r"(?:image|photo(?:graph)?|picture|pic|illustration|drawing|painting|sketch|artwork|render(?:ing)?|" \
              r"poster|wallpaper|portrait|logo|icon)"

# Politeness and framing removed before the verb is looked for.
_LEAD = re.compile(
    r"^(?:(?:please|pls|kindly|hey|hi|ok(?:ay)?|now|then|and|also|so|could you|can you|would you|will you|"
    r"i(?:'d| would) like (?:you )?to|i want (?:you )?to|i need (?:you )?to|help me(?: to)?|go ahead and|"
    r"let's|lets|try to|quickly|just)[\s,]+)+"
)
_QUESTION = re.compile(
    r"^(?:what|who|whom|whose|where|when|why|how|which|is|are|was|were|does|do|did|has|have|can|could|should|"
    r"would|will|tell me|describe|explain|caption|count|summari[sz]e|identify|name|guess|compare|list)\b"
)

# Verbs, most specific first; each pattern is tried at the start of the request, then anywhere.
_ANIMATE = re.compile(
    r"\b(?:animate|bring (?:it|this|that|(?:this|that|the|my) \w+(?: \w+)?) to life|make (?:it|this|that|the (?:photo|image|picture|"
    r"still|scene))(?: \w+)? (?:move|come alive|alive)|(?:turn|convert|transform|change) (?:it|this|that|the "
    r"(?:photo|image|picture|still|shot))(?: \w+)? into an? (?:short )?(?:video|clip|animation|gif|movie)|"
    r"image[- ]to[- ]video|(?:put|set) (?:it|this|that|(?:this|that|the|my) \w+) in motion)\b"
)
_MAKE_VIDEO = re.compile(
    rf"\b(?:(?:generate|create|make|render|produce|film|shoot|synthesi[sz]e|give me|show me|i want|"
    rf"animate)\s+(?:me\s+)?(?:an?|the|some|one|short|little|\d+[- ]second|quick|brief|new)?\s*(?:short |little |"
    rf"quick |brief |new |\d+[- ]second )?{_VIDEO_NOUN}s?\b|text[- ]to[- ]video|^(?:film|shoot) (?:an?|some|two|three)\b|\ban? (?:short )?{_VIDEO_NOUN} "
    rf"(?:of|showing|where|in which|with)\b)"
)
_SEGMENT = re.compile(
    r"\b(?:segment(?:ation of)?|cut (?:out|away)|cut\b(?= .+? out\b)|select|mask|masking|outline|isolate|extract|"
    r"highlight|separate|pick out|single out|delineate|trace|find the (?:outline|mask|silhouette) of|"
    r"give me (?:a|the) mask of|get (?:a|the) mask of|draw (?:a|the) (?:mask|outline|contour) (?:of|around))\b"
)
_TRACK = re.compile(r"\b(?:track|tracking|follow|keep track of|trace the path of|keep an eye on)\b")
_EDIT = re.compile(
    r"\b(?:remove|erase|delete|get rid of|take out|take away|wipe out|clean up|replace|swap|exchange|substitute|"
    r"change|turn|transform|convert|make|recolou?r|repaint|paint|colou?r|add|put|place|insert|give|edit|"
    r"modify|restyle|stylize|apply|dress|cover|fill|set)\b"
)
_GENERATE = re.compile(
    rf"\b(?:generate|draw|create|paint|render|sketch|imagine|design|illustrate|produce|compose|depict|visuali[sz]e|"
    rf"show me (?:an?|some) (?:{_IMAGE_NOUN}|picture)s? of|give me (?:an?|some) {_IMAGE_NOUN}s? of|"
    rf"make (?:me )?(?:an?|some|one|new) (?:new )?{_IMAGE_NOUN}s?)\b"
)

_DETERMINERS = re.compile(r"^(?:(?:the|a|an|this|that|these|those|my|his|her|their|its|our|your|some|all(?: of)?"
                          r"(?: the)?)\s+)+")
_TARGET_END = re.compile(
    rf"\s*(?:[,.;!?]|\b(?:in|on|from|within|inside|of|throughout|across|through|over) (?:the |this |that |my |our |"
    rf"your )?(?:\w+ )?{_MEDIA_NOUN}s?\b|\bthroughout\b|\bfor me\b|\bplease\b|\bfor the rest\b|\bas (?:it|they|he|"
    rf"she) \w+|\bwhile\b|\bacross\b|\bthen\b|\bso (?:that|i)\b|\band (?:then|make|change|replace|turn|put|give|"
    rf"remove|track|save|show)\b|\bwith (?:a|an|the|some)\b|\binto\b|\bto (?:a|an|the|be|look|make)\b|"
    rf"\bfrom (?:start|beginning)\b|\busing\b|\bby\b|\bonly\b|\bif\b|\binstead\b)"
)
_BACKGROUND = re.compile(
    r"\b(?:background|backdrop|scenery|surroundings|setting|sky|environment)\b"
    r"(?:\s+of\s+(?:the|this|that|my)\s+(?:video|clip|footage|movie))?(?:\s+(?:to|into|with|for|as|so it "
    r"(?:is|looks like)|look like|is|be|becomes?))?\s*(.*)"
)
_INTO = re.compile(r"\b(?:into|to look like|to|look like|so (?:it|they|he|she) (?:look|looks) like|with|as|by)\s+(.*)")


@dataclass(frozen=True)
class Request:
    """The latest thing the person asked, as the rules read it."""

    text: str
    media: Media
    size: tuple[int, int] | None
    box: tuple[float, float, float, float] | None
    raw: str = ""
    """the request as typed, box included"""


def read_request(
    messages: Sequence[BaseMessage], attachments: Sequence[Attachment]
) -> tuple[Request | None, str | None]:
    """The request to map, or a reply when the last message is one of the graph's own corrections."""
    last = next((m for m in reversed(messages) if getattr(m, "type", "") == "human"), None)
    if last is None:
        return None, CANNOT_MAP.format(why="tell what you want: no request was given")
    text = last.text.strip()
    if text.startswith(_GRAPH_CORRECTION):
        problem = text[len(_GRAPH_CORRECTION):].split("\nAnswer again", 1)[0].strip()
        return None, f"I can't do that as asked: {problem}"
    if text.startswith(_PERSON_CORRECTION):
        text = text[len(_PERSON_CORRECTION):].strip()
    latest = attachments[-1] if attachments else None
    media: Media = latest.kind if latest is not None else None
    return _with_box(text, media, latest.size if latest is not None else None), None


def _with_box(text: str, media: Media, size: tuple[int, int] | None) -> Request:
    """The request with its first typed box taken out of the words."""
    box = None
    raw = text
    match = _TYPED_BOX.search(text)
    if match:
        box = tuple(float(v) for v in match.groups())
        text = (text[: match.start()] + text[match.end():]).strip()
    return Request(text, media, size, box, raw)  # type: ignore[arg-type]


class RulePlanner:
    """Deterministic, weightless planning: verb + attached media -> module; the words after the verb -> target.

    Anything it cannot map gets an honest answer listing what it can do and how to configure an LLM planner.
    """

    def plan(
        self, messages: Sequence[BaseMessage], attachments: Sequence[Attachment], region: Box | None
    ) -> str:
        request, reply = read_request(messages, attachments)
        if request is None:
            return reply or ""
        parts = [part for part in _STEP_BREAK.split(request.raw) if part.strip()]
        if len(parts) <= 1:
            return _one_step(request, region is not None)
        texts = []
        media, size = request.media, request.size
        for number, part in enumerate(parts, start=1):
            step = _one_step(_with_box(part.strip(), media, size), number == 1 and region is not None)
            if "<module>" not in step:
                return f"Step {number} ({part.strip()!r}): {step}"
            texts.append(step)
            media, size = _after(_module_of(step), media, size)
        return " ".join(texts)


_STEP_BREAK = re.compile(r"\s*(?:[,;.]\s*(?:and\s+)?then\b|\band then\b|[,;.]\s*after that\b|[,;.]\s*next\b)[,:]?\s*",
                         re.IGNORECASE)
_MADE_SIZE = {Module.A: (512, 512), Module.D: (576, 320)}
"""What the generation calls make when the text names no size (their call models' defaults)."""


def _one_step(request: Request, has_region: bool) -> str:
    """Vitron text for one request: the invocation, its typed box in the 224 frame; or an honest answer."""
    invocation = map_request(request, has_region=has_region)
    if isinstance(invocation, str):
        return invocation
    if request.box is not None and request.size is not None and not has_region:
        from vitron_agent.regions import Box

        try:
            frame = Box.of(request.box).to_model_frame(request.size)
            invocation = Invocation(invocation.response, invocation.module, invocation.commands,
                                    tuple(round(v, 4) for v in frame.as_tuple()))
        except ValueError as error:
            return f"The box {list(request.box)} in your request cannot be used: {error}"
    return invocation.to_vitron_text()


def _module_of(text: str) -> Module:
    """The module a step's Vitron text calls."""
    match = re.search(r"<module>([A-G])</module>", text)
    return Module(match.group(1)) if match else Module.B


def _after(module: Module, media: Media, size: tuple[int, int] | None) -> tuple[Media, tuple[int, int] | None]:
    """What the next step works on after ``module``: new media for generation and editing, the same otherwise."""
    if module in (Module.A, Module.D):
        return ("image" if module == Module.A else "video"), _MADE_SIZE[module]
    if module == Module.G:
        return "video", size
    return media, size


def map_request(request: Request, has_region: bool = False) -> Invocation | str:
    """The invocation for one request, or an honest answer (a string) when no rule fits."""
    text = _clean(request.text)
    if not text:
        return CANNOT_MAP.format(why="act on an empty request")
    media = request.media
    if _is_question(text):
        return CANNOT_MAP.format(why="answer questions about what is in a picture or video")
    if _ANIMATE.search(text) and not _MAKE_VIDEO_FROM_SCRATCH.search(text):
        if media == "image":
            prompt = _animation_prompt(text)
            return _call(Module.G, f"Animating the photo: {prompt}.", "image to video", prompt)
        if media is None:
            return _call(Module.D, "Making a video.", "video generation", _generation_prompt(text, video=True))
    if _MAKE_VIDEO.search(text) and (media != "video" or _NEW_WORK.search(text)):
        if media == "image" and _FROM_ATTACHED.search(text):
            prompt = _animation_prompt(text)
            return _call(Module.G, f"Animating the photo: {prompt}.", "image to video", prompt)
        prompt = _generation_prompt(text, video=True)
        return _call(Module.D, f"Making a video of {prompt}.", "video generation", prompt)
    verb = _first_verb(text, media)
    if verb is None:
        return CANNOT_MAP.format(why=f"tell what to do from {request.text!r}")
    kind, match = verb
    rest = text[match.end():].strip()
    if kind == "generate":
        prompt = _generation_prompt(text, video=False)
        return _call(Module.A, f"Drawing {prompt}.", "image generation", prompt)
    if media is None:
        what = "a video" if kind == "track" else "an image or a video"
        return f"Please attach {what} first: I can't {match.group(0)} anything without one."
    if kind in ("segment", "track"):
        target = _target(rest)
        if not target and request.box is None and not has_region:
            return CANNOT_MAP.format(why=f"tell what to {match.group(0)}: no target was named")
        target = target or "the object in the box"
        if media == "video":
            return _call(Module.E, f"Tracking {target}.", "video segmentation", target)
        return _call(Module.B, f"Segmenting {target}.", "segmentation", target)
    # an edit
    if media == "video":
        return _video_edit(text, match)
    return _call(Module.C, "Editing the photo.", "editing", _edit_instruction(text, match))


# -- pieces ---------------------------------------------------------------------------------------------------

_NEW_WORK = re.compile(r"\b(?:new|another|different|from scratch|brand[- ]new)\b")
_FROM_ATTACHED = re.compile(r"\b(?:this|that|the|my) (?:photo|image|picture|still|shot|snapshot)\b|\b(?:from|out of|"
                            r"using|based on) (?:it|this|that)\b")
_MAKE_VIDEO_FROM_SCRATCH = re.compile(r"\b(?:animation|video|clip) of (?:an?|some|two|three)\b")


def _first_verb(text: str, media: Media) -> tuple[str, re.Match[str]] | None:
    """The kind of work the earliest verb asks for; tracking words on a photo count as segmenting."""
    found: list[tuple[int, int, str, re.Match[str]]] = []
    for rank, (kind, pattern) in enumerate(
        (("track", _TRACK), ("segment", _SEGMENT), ("generate", _GENERATE), ("edit", _EDIT))
    ):
        match = pattern.search(text)
        if match:
            found.append((match.start(), rank, kind, match))
    if not found:
        return None
    found.sort(key=lambda item: (item[0], item[1]))
    _, _, kind, match = found[0]
    if kind == "track" and media == "image":
        kind = "segment"
    if kind == "generate" and media is not None and not _NEW_WORK.search(text) and not _names_new_thing(text):
        # "paint the car red" on a photo is an edit, "draw a fox" is new work
        kind = "edit"
    return kind, match


def _names_new_thing(text: str) -> bool:
    """Something new is named ("a fox", "an image of two cats"), with no "the" or "this" pointing into the media."""
    return bool(re.search(rf"\b(?:an?|some|one|two|three) (?:new )?(?:{_IMAGE_NOUN}s? of |[a-z]+)", text)) and not \
        re.search(r"\b(?:the|this|that|its|his|her|their|my)\b", text)


def _is_question(text: str) -> bool:
    if _QUESTION.match(text) and not (_SEGMENT.match(text) or _TRACK.match(text)):
        # "can you ..." was stripped by _clean; what is left starting with a question word is a question, unless a
        # request verb follows right away ("describe" is understanding; "is it possible to remove ..." is not)
        tail = re.sub(r"^(?:is it possible to|is there a way to|how (?:do|can) i|how about you)\s+", "", text)
        return tail == text
    acts = _ANIMATE.search(text) or _MAKE_VIDEO.search(text) or _first_verb(text, None)
    return text.endswith("?") and acts is None


def _target(rest: str) -> str:
    """The noun phrase right after the verb: determiners off, cut at the first clause or media phrase."""
    rest = re.sub(r"^(?:out|away|off|up|down)\s+", "", rest)
    end = _TARGET_END.search(rest)
    phrase = rest[: end.start()] if end else rest
    phrase = re.sub(r"\s+(?:out|away|off)$", "", phrase.strip())
    phrase = _DETERMINERS.sub("", phrase).strip(" ,.'\"")
    if re.fullmatch(rf"(?:it|them|him|her|this|that|everything|something|{_MEDIA_NOUN})s?", phrase):
        return ""
    return phrase[:200]


def _generation_prompt(text: str, *, video: bool) -> str:
    """What to draw: the words after "... of" or after the verb, without the framing."""
    nouns = _VIDEO_NOUN if video else _IMAGE_NOUN
    match = re.search(rf"\b{nouns}s?\s+(?:of|showing|where|in which|with|about|depicting|featuring)\s+(.*)", text)
    if match is None:
        match = re.search(r"\b(?:generate|draw|create|paint|render|sketch|imagine|design|illustrate|produce|"
                          r"compose|depict|visuali[sz]e|make|film|shoot|show me|give me|animate)\s+(?:me\s+)?(.*)",
                          text)
    prompt = match.group(1) if match else text
    prompt = re.sub(rf"^(?:an?|some|one|the|new|short|little|quick)?\s*(?:new |short )?(?:{nouns}s?\s*(?:of)?\s*)?",
                    "", prompt)
    prompt = prompt.strip(" .!?,") or text
    return prompt[:500]


def _animation_prompt(text: str) -> str:
    """The motion asked for: a "so that / with / where ..." clause, else what follows "animate", else a default."""
    match = re.search(r"\b(?:so that|so|where|with|showing|and (?:make|let|have))\s+(.*)", text)
    if match is None:
        match = re.search(r"\banimate\s+(.*)", text)
    prompt = _DETERMINERS.sub("", match.group(1).strip(" .!?")) if match else ""
    if re.fullmatch(rf"(?:it|this|that|{_MEDIA_NOUN}s?)?(?: please)?", prompt):
        prompt = ""
    return prompt or "natural, gentle motion"


def _edit_instruction(text: str, match: re.Match[str]) -> str:
    """The edit as an instruction ("replace the dog with a cat"), from the verb on, framing removed."""
    instruction = text[match.start():].strip(" .!?")
    instruction = re.sub(rf"\s+(?:in|on|of|from) (?:the |this |that |my )?{_MEDIA_NOUN}\b", "", instruction)
    return instruction[:500] or text


def _video_edit(text: str, match: re.Match[str]) -> Invocation:
    """F: a background prompt, a foreground prompt (what the tracked subject becomes), or both."""
    commands: list[Command] = []
    background = _BACKGROUND.search(text)
    subject_part = text
    if background:
        prompt = re.split(r"\s+(?:and|while|but)\s+(?=(?:the|make|turn|change|replace|keep)\b)|[,;.]",
                          background.group(1))[0]
        rest_after = background.group(1)[len(prompt):]
        prompt = _DETERMINERS.sub("", prompt.strip(" .!?")).strip()
        if prompt:
            commands.append(Command("background", prompt))
        # what is left once the background clause (from its verb on) is cut out is about the subject
        verbs = list(_EDIT.finditer(text, 0, background.start()))
        clause_start = verbs[-1].start() if verbs else background.start()
        subject_part = text[:clause_start] + " " + rest_after
    foreground = _foreground(subject_part)
    if foreground:
        commands.insert(0, Command("foreground", foreground))
    if not commands:
        commands.append(Command("foreground", _edit_instruction(text, match)))
    return Invocation(response="Editing the video.", module=Module.F, commands=tuple(commands))


def _foreground(text: str) -> str:
    """What the subject becomes, from "turn the rider into a robot" / "make the man look like a knight"."""
    verb = re.search(r"\b(?:turn|transform|change|make|replace|swap|convert|dress|recolou?r|repaint|paint|"
                     r"restyle|give)\s+(.*)", text)
    if verb is None:  # "... and the rider into a robot": the verb was shared with the background clause
        into = re.search(r"\b(?:the|a|an|his|her|their)\s+\w+\s+(?:into|to look like|look like|as)\s+(.*)", text)
        return _DETERMINERS.sub("", re.split(r"[,;.]|\s+(?:and|while|but)\s+", into.group(1))[0]).strip(" .!?") \
            if into else ""
    into = _INTO.search(verb.group(1))
    if into:
        prompt = into.group(1)
    else:  # "make the riders astronauts": the words after the subject
        prompt = re.sub(r"^(?:the|a|an|his|her|their|its|this|that)\s+\w+\s+", "", verb.group(1))
    prompt = re.split(r"[,;.]|\s+(?:and|while|but)\s+", prompt)[0]
    return _DETERMINERS.sub("", prompt.strip(" .!?")).strip()[:500]


def _call(module: Module, response: str, task: str, text: str) -> Invocation:
    return Invocation(response=response, module=module, commands=(Command(task, text),))


def _clean(text: str) -> str:
    text = " ".join(text.lower().replace("’", "'").split())
    return _LEAD.sub("", text).strip()
