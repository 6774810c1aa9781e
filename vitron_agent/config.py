"""The workspace's ``vitron.toml``, read as plain data: only the documented keys, each checked.

A workspace can come from anywhere (a cloned repository ships its own ``./vitron-workspace``), so its settings
must never run code. SAM2's Hydra ``overrides`` are where that could happen: Hydra instantiates any ``_target_``
it finds. Overrides are therefore plain ``key=value`` assignments of numbers, words and lists, with no key part
starting with ``_`` and no ``${...}`` interpolation; anything else, and any key this page does not document, is
refused with a message that names it.

The documented keys::

    [planner]       spec = "rules" | "chat:<provider>:<model>" | "vitron:<path-or-id>";  quantize = "4bit" | "8bit"
    [segmentation]  backend = "auto" | "sam2" | "classic"
    [limits]        request_bytes = 32768        # the longest request, correction or edit a person may send
                    claim_lease_s = 30           # a running step's claim lapses this long after its last heartbeat
                    attachment_bytes = 20971520  # the most a message's pictures (content blocks) may weigh
    [storage]       database = "postgresql://user@host/db"   # shared state for many processes (the server extra)
                    blobs = "s3://bucket/prefix" | "/shared/folder"    # shared artifact files
    [execution]     backend = "local" | "ray"; address = "auto" | "ray://host:10001" | "host:6379"
                    request_bytes = 268435456    # the largest request sent to a replica (inputs included)
    [execution.<family>]                          # sam2, sd, inpaint, pix2pix, t2v, i2v; vitron (the planner)
                    num_gpus = 0.5; num_cpus = 1; min_replicas = 1; max_replicas = 2
                    target_ongoing_requests = 2; memory = "6GB"   # each replica's model budget
    [defaults.<tool>]
                    candidates = 4; steps = 20   # argument values a tool's calls start from, where the planner
                                                 # leaves them out (checked by the tool's own arguments)
    [weights.<family>]
                    source = "<repo id, folder or file>"; revision = "<branch, tag or commit>"
                    filename = "<file inside the repo>"; config = "<sam2 model config>"
                    overrides = ["++model.image_size=1024"]; threshold = 0.3   # grounding's score threshold
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["DEFAULT_ATTACHMENT_BYTES", "DEFAULT_CLAIM_LEASE_S", "DEFAULT_REQUEST_BYTES", "ExecutionSettings", "FamilyExecution", "Settings", "read_settings",
           "request_too_long"]

DEFAULT_ATTACHMENT_BYTES = 20 * 2**20
"""The most one message's pictures may weigh, decoded (``[limits] attachment_bytes``)."""
DEFAULT_REQUEST_BYTES = 32 * 1024
DEFAULT_CLAIM_LEASE_S = 30.0
DEFAULT_SHIPPED_BYTES = 256 * 2**20
_OVERRIDE = re.compile(r"\+{0,2}([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)=([A-Za-z0-9_.,:/+\-\[\] ]*)")


def _plain_override(text: str) -> str:
    match = _OVERRIDE.fullmatch(text.strip())
    if match is None or any(part.startswith("_") for part in match.group(1).split(".")):
        raise ValueError(f"{text!r} is not a plain override: write key=value with a number, word or list value "
                         "(no _target_ or other _-keys, no ${...} interpolation)")
    return text.strip()


_SAM2_CONFIG = re.compile(r"configs/[A-Za-z0-9_.+-]+/[A-Za-z0-9_.+-]+\.yaml")


def _packaged_config(text: str) -> str:
    if _SAM2_CONFIG.fullmatch(text) is None or ".." in text:
        raise ValueError(f"{text!r} is not one of sam2's packaged configs, such as configs/sam2.1/sam2.1_hiera_t.yaml")
    return text


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlannerSettings(_Section):
    spec: str | None = None
    quantize: Literal["4bit", "8bit"] | None = None


class SegmentationSettings(_Section):
    backend: Literal["auto", "sam2", "classic"] | None = None


class LimitSettings(_Section):
    request_bytes: int = Field(default=DEFAULT_REQUEST_BYTES, ge=256, le=16 * 2**20)
    claim_lease_s: float = Field(default=DEFAULT_CLAIM_LEASE_S, ge=1.0, le=3600.0)
    attachment_bytes: int = Field(default=DEFAULT_ATTACHMENT_BYTES, ge=1024, le=2**31)


class StorageSettings(_Section):
    database: str | None = None
    blobs: str | None = None


class FamilyExecution(_Section):
    """How one model family's Ray Serve deployment is placed and scaled."""

    num_gpus: float = Field(default=0.0, ge=0.0)
    num_cpus: float = Field(default=1.0, gt=0.0)
    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=1, ge=1)
    target_ongoing_requests: float = Field(default=2.0, gt=0.0)
    memory: str | None = None
    """the model manager's budget in each replica ("6GB"); by default its share of the GPU, or half the memory"""

    @model_validator(mode="after")
    def _replicas_in_order(self) -> FamilyExecution:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} is more than max_replicas {self.max_replicas}")
        return self


class ExecutionSettings(_Section):
    """Where tools run: in this process (the default) or on Ray Serve deployments, one per model family."""

    backend: Literal["local", "ray"] = "local"
    address: str = "auto"
    request_bytes: int = Field(default=DEFAULT_SHIPPED_BYTES, ge=1024)
    sam2: FamilyExecution = FamilyExecution()
    sd: FamilyExecution = FamilyExecution()
    inpaint: FamilyExecution = FamilyExecution()
    pix2pix: FamilyExecution = FamilyExecution()
    t2v: FamilyExecution = FamilyExecution()
    i2v: FamilyExecution = FamilyExecution()
    vitron: FamilyExecution = FamilyExecution()


DefaultValue = int | float | str | bool | list[int | float | str | bool]


class WeightsSettings(_Section):
    source: str | None = None
    revision: str | None = None
    filename: str | None = None
    config: Annotated[str, AfterValidator(_packaged_config)] | None = None
    overrides: list[Annotated[str, AfterValidator(_plain_override)]] = []
    threshold: float | None = Field(default=None, ge=0.0)


class Settings(_Section):
    """Everything ``vitron.toml`` may say."""

    planner: PlannerSettings = PlannerSettings()
    segmentation: SegmentationSettings = SegmentationSettings()
    limits: LimitSettings = LimitSettings()
    storage: StorageSettings = StorageSettings()
    execution: ExecutionSettings = ExecutionSettings()
    weights: dict[str, WeightsSettings] = {}
    defaults: dict[str, dict[str, DefaultValue]] = {}


def read_settings(data: dict[str, Any], where: str) -> Settings:
    """The settings in ``data`` (a parsed TOML file).

    Raises:
        ValueError: one line per key that is unknown or wrong, naming the file.
    """
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        lines = []
        for item in error.errors():
            key = ".".join(str(part) for part in item["loc"])
            problem = "is not a documented setting" if item["type"] == "extra_forbidden" else \
                item["msg"].removeprefix("Value error, ")
            lines.append(f"{key} {problem}")
        raise ValueError(f"{where}: " + "; ".join(lines)) from None


def request_too_long(text: str, limit: int) -> str | None:
    """Why a request is refused for its length, or None when it fits."""
    size = len(text.encode("utf-8", errors="replace"))
    if size <= limit:
        return None
    return (f"that request is {size / 1024:,.0f} KiB, over the {limit / 1024:,.0f} KiB limit for one request; "
            "send a shorter one (the limit is [limits] request_bytes in the workspace's vitron.toml)")
