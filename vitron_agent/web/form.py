"""The decision card's argument form, generated from a tool's JSON schema (its pydantic ``Args``).

Each property becomes one :class:`Field` with the kind of input that suits it: text, a whole number, a number, a
tick box, a choice of allowed values, a box as ``x1, y1, x2, y2``, a list as one item per line, or JSON for
anything else. :func:`changes` reads what the person typed back into arguments and validates the result with the
tool's own ``Args``, so a mistake is shown beside the field it concerns before anything is sent; the graph then
validates the edit again (with the store, as for every call) when the session applies it.

Usage::

    fields = form_fields(tools["segment_image"].Args)
    edits, errors = changes(tools["segment_image"].Args, fields, step.args, typed_values)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["Field", "changes", "form_fields", "shown_value"]

Kind = Literal["text", "integer", "number", "boolean", "choice", "box", "lines", "json"]
_BOX_KEYS = ("x1", "y1", "x2", "y2")


class Field(BaseModel):
    """One argument as a form input."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: Kind
    label: str
    help: str = ""
    choices: list[Any] = []
    optional: bool = False


def form_fields(args: type[BaseModel]) -> list[Field]:
    """A field per argument of a tool's ``Args``, in declaration order."""
    schema = args.model_json_schema()
    required = set(schema.get("required", ()))
    fields = []
    for name, spec in schema.get("properties", {}).items():
        options = [option for option in spec.get("anyOf", [spec]) if option.get("type") != "null"]
        optional = name not in required
        fields.append(Field(name=name, kind=_kind(options[0] if len(options) == 1 else {}),
                            label=name.replace("_", " "), help=_help(spec, options), optional=optional,
                            choices=list(options[0].get("enum", ())) if len(options) == 1 else []))
    return fields


def _kind(spec: Mapping[str, Any]) -> Kind:
    if "enum" in spec:
        return "choice"
    if spec.get("$ref", "").endswith("/Box"):
        return "box"
    kind = spec.get("type")
    if kind == "array" and spec.get("items", {}).get("type") == "string":
        return "lines"
    if kind == "string":
        return "text"
    if kind in ("integer", "number", "boolean"):
        return kind  # type: ignore[return-value]
    return "json"


def _help(spec: Mapping[str, Any], options: Sequence[Mapping[str, Any]]) -> str:
    described = spec.get("description") or next((o.get("description") for o in options if o.get("description")), "")
    bounds = [f"{word} {options[0][key]:g}" for key, word in (("minimum", "from"), ("maximum", "to"))
              if options and key in options[0]]
    return " ".join(part for part in (described, ", ".join(bounds)) if part)


def shown_value(field: Field, value: Any) -> Any:
    """An argument's value as its input shows it."""
    if value is None:
        return None if field.kind in ("integer", "number", "boolean", "choice") else ""
    if field.kind == "box" and isinstance(value, Mapping):
        return ", ".join(f"{value[key]:g}" for key in _BOX_KEYS)
    if field.kind == "lines":
        return "\n".join(str(item) for item in value)
    if field.kind == "json":
        return json.dumps(value)
    return value


def _read(field: Field, raw: Any) -> Any:
    """What the person typed into one input, as the argument's value.

    Raises:
        ValueError: the text cannot be read as this kind of value.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return [] if field.kind == "lines" else None
    if field.kind == "box":
        parts = [part for part in str(raw).replace(",", " ").split() if part]
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            numbers = []
        if len(numbers) != 4:
            raise ValueError("write a box as four numbers in pixels: x1, y1, x2, y2")
        return dict(zip(_BOX_KEYS, numbers))
    if field.kind == "lines":
        return [line.strip() for line in str(raw).splitlines() if line.strip()]
    if field.kind == "json":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError("write this as JSON (for example [] or [{\"x\": 10, \"y\": 20}])") from None
    if field.kind == "integer" and isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return raw


def _same(raw: Any, shown: Any) -> bool:
    if isinstance(raw, str) or isinstance(shown, str):
        return str(raw if raw is not None else "").strip() == str(shown if shown is not None else "").strip()
    return raw == shown


def changes(args: type[BaseModel], fields: Sequence[Field], current: Mapping[str, Any],
            typed: Sequence[Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The arguments the person changed, and what is wrong, by field name (empty when all is well).

    Args:
        args: the tool's ``Args``, whose validation decides what is wrong.
        fields: the form's fields, in the order of ``typed``.
        current: the step's arguments as shown.
        typed: the inputs' values.
    """
    edits: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field, raw in zip(fields, typed):
        if _same(raw, shown_value(field, current.get(field.name))):
            continue  # as shown: not an edit (a box shown rounded is not changed by being left alone)
        try:
            value = _read(field, raw)
        except ValueError as error:
            errors[field.name] = str(error)
            continue
        if value != current.get(field.name) and not (value in (None, []) and not current.get(field.name)):
            edits[field.name] = value
    if not edits:
        return edits, errors
    try:
        args.model_validate({**current, **edits})
    except ValidationError as error:
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else next(iter(edits))
            if name in edits or name not in current:
                errors.setdefault(name, str(item["msg"]).removeprefix("Value error, "))
    return edits, errors
