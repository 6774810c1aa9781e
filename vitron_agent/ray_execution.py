"""Tools on Ray Serve: one deployment per model family, and the runner that sends approved calls to them.

:func:`deploy` (``vitron-agent serve-tools``) puts one application per family on the cluster, named
``vitron-<family>``, placed and scaled by ``[execution.<family>]`` (GPU and CPU share, replicas, the target of
ongoing requests per replica). Each replica is a :class:`ToolReplica`: a :class:`~vitron_agent.replica.ReplicaWork`
(its own model manager, holding the family's model within the replica's memory share) behind a streaming method.

:class:`RayRunner` is what the graph runs tools through when ``[execution] backend = "ray"``. A call goes to its
family's deployment as a :class:`~vitron_agent.shipping.ToolRequest`; progress comes back as Serve's streaming
response, to the same progress bar, page or MCP client; the person's cancel cancels the Serve request, which the
replica turns into the tool's ``check_cancelled``. A replica that dies, a cluster that can't be reached and a
request over ``[execution] request_bytes`` are each one sentence, and the step waits to be retried.

Usage::

    deploy(Execution.of(root), ["sam2", "sd"])       # once, on the cluster
    runner = RayRunner(Execution.of(root), root, blobs=workspace.storage.blobs)
    runner.run(tool, call, ctx)
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vitron_agent.execution import Execution, family_of
from vitron_agent.readiness import Readiness
from vitron_agent.replica import ReplicaWork
from vitron_agent.shipping import (
    Failure,
    PlanReply,
    PlanRequest,
    Progress,
    ToolRequest,
    pack_request,
    store_reply,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pydantic import BaseModel

    from vitron_agent.tools import Tool, ToolContext, ToolResult

__all__ = ["DeploymentCheck", "RayRunner", "ToolReplica", "app_name", "connect", "deploy", "deployments"]

logger = logging.getLogger("vitron_agent.ray")
RAY_EXTRA = "pip install 'vitron-agent[ray]'"
RAY_MISSING = "ray is not installed"
_RETRY_UNREACHABLE_S = 5.0
_END = object()


def app_name(family: str) -> str:
    return f"vitron-{family}"


class ToolReplica:
    """One replica of a family's deployment: runs shipped calls on its own model manager, streaming progress.

    It runs as many calls at once as it has CPUs (at least one): a replica's share of the machine is its share
    of the work, and calls beyond that wait in its queue (shown by ``doctor``) or go to another replica.
    """

    def __init__(self, family: str, memory: str | None = None, gpu_share: float = 0.0, cpus: float = 1.0) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.work = ReplicaWork(family, memory=memory, gpu_share=gpu_share)
        self.pool = ThreadPoolExecutor(max(1, int(cpus)), thread_name_prefix=f"vitron-{family}")
        self.accepted = 0

    async def run(self, request: ToolRequest | PlanRequest) -> AsyncIterator[Any]:
        """Events as the work reports them (a tool's :class:`Progress`, the planner's text pieces), then its
        reply or :class:`Failure`. Serve's cancellation of the request (the person's cancel) raises here; the
        tool sees it at its next ``check_cancelled``."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def emit(event: Any) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event)

        work = loop.run_in_executor(self.pool, lambda: self.work.run(request, emit=emit, cancelled=stop.is_set))
        work.add_done_callback(lambda _: events.put_nowait(_END))
        self.accepted += 1
        try:
            while (event := await events.get()) is not _END:
                yield event
            yield await work
        except asyncio.CancelledError:
            stop.set()
            raise
        finally:
            self.accepted -= 1

    def stats(self) -> dict[str, Any]:
        """The replica's models and counters; ``queue``: calls it accepted that wait for a free worker."""
        stats = self.work.stats()
        return {**stats, "queue": max(0, self.accepted - stats["ongoing"])}


def deploy(execution: Execution, families: Sequence[str], *, wait_s: float = 300) -> list[str]:
    """Put each family's application on the connected cluster (replacing one already there), and wait up to
    ``wait_s`` for each to be ready. Returns the families still not ready (a replica the cluster has no room
    for stays requested, and starts when room appears).

    Raises:
        ValueError: Serve refused a deployment (the message names it and says why, in one line).
    """
    from ray import serve

    waiting = []
    for family in families:
        options = execution.families[family]
        scaling = {"min_replicas": options.min_replicas, "max_replicas": options.max_replicas,
                   "target_ongoing_requests": options.target_ongoing_requests}
        deployment = serve.deployment(ToolReplica, name="ToolReplica").options(
            ray_actor_options={"num_cpus": options.num_cpus, "num_gpus": options.num_gpus},
            **({"num_replicas": options.min_replicas} if options.min_replicas == options.max_replicas
               else {"autoscaling_config": scaling}),
        )
        application = deployment.bind(family, options.memory, options.num_gpus, options.num_cpus)
        refused: list[BaseException] = []

        def run(application: Any = application, family: str = family) -> None:
            try:
                serve.run(application, name=app_name(family), route_prefix=None)
            except Exception as error:  # said below, in one line
                logger.warning("deploying %s failed", family, exc_info=error)
                refused.append(error)

        started = threading.Thread(target=run, daemon=True, name=f"deploy-{family}")
        started.start()
        started.join(wait_s)
        if refused:
            reason = str(refused[0]).strip().split("\n")[0] or "it gave no reason"
            raise ValueError(f"{app_name(family)} could not be deployed: {reason}")
        if started.is_alive():
            waiting.append(family)
    return waiting


def connect(address: str) -> str | None:
    """Join the Ray cluster at ``address`` (once per process); None when joined, else why it can't be reached.
    ``local`` starts a Ray instance in this process."""
    try:
        import ray
    except ImportError:
        return RAY_MISSING
    if address not in ("auto", "local"):
        refused = _refused(address)
        if refused:
            return refused
    if ray.is_initialized():
        return None
    here = {"include_dashboard": False} if address == "local" else {"address": address}
    try:
        ray.init(log_to_driver=False, logging_level=logging.WARNING, **here)
    except Exception as error:  # ConnectionError, or Ray's own on a wrong address
        return str(error).strip().split("\n")[0] or "it did not answer"
    return None


def _refused(address: str) -> str | None:
    """Why nothing answers at ``host:port`` (2 s at most), or None: Ray itself would wait far longer."""
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return f"{address} is not host:port or ray://host:port"
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return None
    except OSError as error:
        return error.strerror or str(error)


class RayRunner:
    """Runs each call on its family's deployment; a tool that loads no family's weights runs here.

    Args:
        execution: the ``[execution]`` setting. root: the workspace folder (its tool settings travel with each
            call). blobs: the shared artifact files (``[storage] blobs``), or None: inputs then travel as bytes.
    """

    remote = True

    def __init__(self, execution: Execution, root: Path, *, blobs: str | None = None) -> None:
        from vitron_agent.execution import LocalRunner

        self.execution, self.root, self.blobs = execution, root, blobs
        self.local = LocalRunner(root)
        self._unreachable: tuple[float, str] | None = None
        self._joined = False
        self._handles: dict[str, Any] = {}
        self._lock = threading.Lock()  # one join, one deployment, however many threads ask

    def where(self, tool: Tool, args: dict[str, Any]) -> str:
        family = family_of(tool, args, self.root)
        return f"Ray Serve, {app_name(family)}" if family else ""

    def readiness(self, tool: Tool, args: dict[str, Any]) -> Readiness:
        """Ready when the call's family is deployed on a cluster that answers; else why not and what to do. The
        replica's weights are its own machine's business: a missing one is said when the call runs."""
        family = family_of(tool, args, self.root)
        if family is None:
            return self.local.readiness(tool, args)
        why = self._connected()
        if why == RAY_MISSING:
            return Readiness(status="needs_extra", reason="it runs on Ray Serve, which needs the ray extra "
                             "(ray is not installed)", fix=RAY_EXTRA)
        if why:
            return Readiness(status="unreachable", reason=f"the Ray cluster at {self.execution.address} can't be "
                             f"reached ({why})", fix="start it (ray start --head) and deploy the tools with "
                             "vitron-agent serve-tools, or set [execution] backend = \"local\"")
        if not _running(family) and not self._deployed_here(family):
            return Readiness(status="unreachable", reason=f"the {family} tools are not deployed on the Ray cluster "
                             f"at {self.execution.address}", fix=f"vitron-agent serve-tools --family {family}")
        return Readiness()

    def _deployed_here(self, family: str) -> bool:
        """With address "local" (a Ray instance in this process), deploy ``family`` on its first call."""
        if self.execution.address != "local":
            return False
        with self._lock:
            return _running(family) or not deploy(self.execution, [family])

    def run(self, tool: Tool, args: BaseModel, ctx: ToolContext) -> ToolResult:
        """``tool.run`` on the replica; the same result, artifacts and exceptions as a local run.

        Raises:
            ToolCancelled: the person cancelled. RuntimeError: the replica died, the cluster can't be reached, or
            the request is over the limit (one sentence each). Whatever the tool raised on the replica.
        """
        from vitron_agent.tools import call_arguments

        arguments = call_arguments(args)
        family = family_of(tool, arguments, self.root)
        if family is None:
            return tool.run(args, ctx)
        request = pack_request(tool.name, arguments, ctx, blobs=self.blobs)
        if request.size > self.execution.request_bytes:
            raise RuntimeError(f"the request is {_size(request.size)} with its inputs, over the "
                               f"{_size(self.execution.request_bytes)} limit of [execution] request_bytes; it "
                               "was not sent (with shared [storage] blobs, references go instead of files)")
        for event in self._stream(family, request, ctx.cancelled, retry="approve the step again to retry"):
            if isinstance(event, Progress):
                ctx.report(event.done, event.total, event.message)
            else:
                return store_reply(event, ctx)
        raise RuntimeError("the replica ended the call without a result")

    def plan(self, request: PlanRequest, on_text: Any = None) -> str:
        """The Vitron planner's answer from the ``vitron`` deployment, its text streamed to ``on_text``.

        Raises:
            RuntimeError: the replica died, the cluster can't be reached, or the request is over the limit.
            Whatever the planner raised on the replica.
        """
        if request.size > self.execution.request_bytes:
            raise RuntimeError(f"the request is {_size(request.size)} with its pictures, over the "
                               f"{_size(self.execution.request_bytes)} limit of [execution] request_bytes")
        why = self._connected()
        if not why and not _running("vitron") and not self._deployed_here("vitron"):
            raise RuntimeError(f"the Vitron planner is not deployed on the Ray cluster at {self.execution.address}; "
                               "run vitron-agent serve-tools --family vitron")
        for event in self._stream("vitron", request, lambda: False, retry="send the request again"):
            if isinstance(event, PlanReply):
                return event.text
            if on_text is not None:
                on_text(event)
        raise RuntimeError("the planner's replica ended without an answer")

    def _stream(self, family: str, request: ToolRequest | PlanRequest, cancelled: Any, *,
                retry: str) -> Iterator[Any]:
        """The replica's events for ``request``, up to its reply; its failure raised as a local run raises it,
        Ray's own as one sentence; a cancel (``cancelled()`` turning true) cancels the Serve request."""
        why = self._connected()
        if why:
            raise RuntimeError(f"the Ray cluster at {self.execution.address} can't be reached ({why})")
        with _said(family, retry):
            response = self._handle(family).options(stream=True).run.remote(request)
            with _cancelling(response, cancelled):
                for event in response:
                    if isinstance(event, Failure):
                        raise event.error()
                    yield event

    def _connected(self) -> str | None:
        """None when joined to the cluster; else why not (a failure is remembered for a few seconds)."""
        with self._lock:
            if self._joined:
                return None
            if self._unreachable and time.monotonic() - self._unreachable[0] < _RETRY_UNREACHABLE_S:
                return self._unreachable[1]
            why = connect(self.execution.address)
            self._unreachable = (time.monotonic(), why) if why else None
            self._joined = why is None
            return why

    def _handle(self, family: str) -> Any:  # joined to the cluster first (see _stream)
        if family not in self._handles:
            from ray import serve

            self._handles[family] = serve.get_deployment_handle("ToolReplica", app_name=app_name(family))
        return self._handles[family]


def _running(family: str) -> bool:
    from ray import serve

    try:
        application = serve.status().applications.get(app_name(family))
    except Exception:  # Serve not started on this cluster
        return False
    return application is not None and str(application.status).endswith("RUNNING")


def _size(count: int) -> str:
    return f"{count / 2**20:,.1f} MiB" if count >= 2**20 else f"{count / 1024:,.0f} KiB"


@contextmanager
def _cancelling(response: Any, cancelled: Any) -> Iterator[None]:
    """Cancel the Serve request as soon as the person cancels (polled while the call runs)."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            if cancelled():
                response.cancel()
                return

    watcher = threading.Thread(target=watch, daemon=True, name="vitron-ray-cancel")
    watcher.start()
    try:
        yield
    finally:
        done.set()


@contextmanager
def _said(family: str, retry: str) -> Iterator[None]:
    """Ray's failures as sentences a person can act on (the details go to the log)."""
    from ray.exceptions import ActorUnavailableError, RayActorError, RayError
    from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError, RequestCancelledError

    from vitron_agent.tools import ToolCancelled

    try:
        yield
    except RequestCancelledError:
        raise ToolCancelled("cancelled by the person") from None
    except (RayActorError, ActorUnavailableError) as error:
        logger.warning("the %s replica stopped mid-call", family, exc_info=error)
        raise RuntimeError(f"the Ray Serve replica running it ({app_name(family)}) stopped mid-call; Serve starts a "
                           f"new one, so {retry}") from None
    except BackPressureError:
        raise RuntimeError(f"{app_name(family)} has as many calls waiting as it takes; try again shortly") from None
    except DeploymentUnavailableError:
        raise RuntimeError(f"{app_name(family)} is not deployed on the Ray cluster; run vitron-agent serve-tools "
                           f"--family {family}") from None
    except RayError as error:
        logger.warning("Ray failed a call to %s", family, exc_info=error)
        raise RuntimeError(f"Ray Serve could not run it on {app_name(family)} (details in the log)") from None


@dataclass(frozen=True)
class DeploymentCheck:
    """One family's deployment as ``vitron-agent doctor`` shows it."""

    family: str
    status: str
    replicas: int
    gpus: float
    loaded: tuple[str, ...] = ()
    queue: int = 0


def deployments(execution: Execution) -> tuple[str | None, list[DeploymentCheck]]:
    """Each family's deployment on the cluster (why it can't be reached instead, when it can't): replicas
    running, GPUs they hold, the models loaded and the calls waiting on the replica that answered."""
    why = connect(execution.address)
    if why:
        return why, []
    from ray import serve

    found = []
    try:
        applications = serve.status().applications
    except Exception:
        applications = {}
    for family, options in execution.families.items():
        application = applications.get(app_name(family))
        if application is None:
            found.append(DeploymentCheck(family, "not deployed", 0, 0.0))
            continue
        states = next(iter(application.deployments.values())).replica_states if application.deployments else {}
        running = int(states.get("RUNNING", 0))
        stats: dict[str, Any] = {}
        if running:
            try:
                handle = serve.get_deployment_handle("ToolReplica", app_name=app_name(family))
                stats = handle.stats.remote().result(timeout_s=10)
            except Exception:
                logger.debug("no stats from %s", family, exc_info=True)
        found.append(DeploymentCheck(family, str(application.status).rsplit(".", 1)[-1].lower(), running,
                                     options.num_gpus * running, tuple(stats.get("resident", ())),
                                     int(stats.get("queue", 0))))
    return None, found
