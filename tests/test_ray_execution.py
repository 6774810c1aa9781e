"""The tools on Ray Serve: a real local Ray instance (started once for this file), the families deployed with
``deploy`` as ``vitron-agent serve-tools`` does, tiny random pipelines and the classic segmentation backend.

Each call goes through the whole graph (plan, review, approval in the decision log, execute); only
``tool.run`` happens in a replica. Marked ``ray``: ``pytest -m "not ray"`` skips them on a laptop; CI runs them.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import MOTORCYCLE, ROOT, configure, share

from vitron_agent.config import FamilyExecution
from vitron_agent.execution import FAMILIES, Execution
from vitron_agent.planners import ScriptedPlanner
from vitron_agent.session import Session, Turn

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")

SEGMENT = ("Sure. <module>B</module> <instruction>segmentation: the white motorcycle</instruction>"
           " <region>[21, 42, 203, 177]</region>")
EDIT = ("Sure. <module>C</module> <instruction>editing: make it red</instruction> <region>[21, 42, 203, 177]"
        "</region>")
ANIMATE = "<module>G</module> <instruction>image-to-video: the bike drives off</instruction>"
GENERATE = "<module>A</module> <instruction>text-to-image: a red bike</instruction>"
ON_RAY = '[execution]\nbackend = "ray"\n'


@pytest.fixture(scope="module")
def cluster(tiny_diffusion: dict[str, Path], s3: Any) -> Any:
    """A local Ray instance with the families these tests use deployed. Each replica has as many CPUs as torch
    uses here: Ray gives a replica that many threads, and the same seed then gives the same bytes (another
    thread count sums in another order). Ray's CPUs are a count for placement: these four replicas fit, with room
    for the ones tests deploy themselves. The S3 server's settings are in the environment first, so the replicas read the bucket too."""
    import torch

    from vitron_agent.ray_execution import deploy

    threads = torch.get_num_threads()
    ray.init(num_cpus=6 * threads, include_dashboard=False, log_to_driver=False)
    execution = Execution(backend="ray", address="auto", request_bytes=2**28,
                          families={name: FamilyExecution(num_cpus=threads) for name in FAMILIES})
    deploy(execution, ["sam2", "inpaint", "i2v", "sd"])
    yield execution
    serve.shutdown()
    ray.shutdown()


def weights(tiny: dict[str, Path]) -> str:
    families = ("sd", "inpaint", "pix2pix", "i2v")
    return "".join(f'[weights.{name}]\nsource = "{tiny[name]}"\n' for name in families) + \
        '[segmentation]\nbackend = "classic"\n'


def session(folder: Path, settings: str, script: list[str], **options: Any) -> Session:
    folder.mkdir(parents=True, exist_ok=True)
    configure(folder, settings)
    return Session(folder, ScriptedPlanner(script), import_roots=[ROOT], **options)


def both_ways(tmp_path: Path, tiny: dict[str, Path], script: str, *, events: list | None = None,
              **edits: Any) -> tuple[Turn, Turn]:
    """The same request approved with the same edits in a local workspace and in one on Ray (whose progress
    events go to ``events``); the decision on Ray says where it will run."""
    turns = []
    for where, extra in (("local", ""), ("ray", ON_RAY)):
        progress = {"on_progress": events.append} if events is not None and where == "ray" else {}
        person = session(tmp_path / where, weights(tiny) + extra, [script], **progress)
        shown = person.send("please", attachments=[MOTORCYCLE[0]]).pending
        assert shown.current.readiness.can_run and ("on Ray Serve, vitron-" in shown.current.backend) == bool(extra)
        if edits:
            person.edit(**edits)
        turns.append(person.approve())
    return turns[0], turns[1]


def same_results(local: Turn, remote: Turn) -> None:
    """The same bytes, lineage, seed, model id and call (each run's own decision id aside)."""
    def record(turn: Turn) -> list[tuple]:
        made = [a.id for a in turn.artifacts]  # a parent made in the same run: by its place in the run
        return [(a.sha256, a.kind, [f"#{made.index(p)}" if p in made else p for p in a.parents], a.seed, a.model_id,
                 a.meta, a.call["tool"], a.call["args"]) for a in turn.artifacts]

    assert remote.artifacts and record(remote) == record(local)
    assert remote.text == local.text


def replica_stats(family: str) -> dict[str, Any]:
    return serve.get_deployment_handle("ToolReplica", app_name=f"vitron-{family}").stats.remote().result()


def test_a_segmentation_on_ray_is_byte_identical(cluster: Any, tmp_path: Path, tiny_diffusion: dict) -> None:
    before = replica_stats("sam2")["runs"]
    local, remote = both_ways(tmp_path, tiny_diffusion, SEGMENT)
    same_results(local, remote)
    assert [a.kind for a in remote.artifacts] == ["mask", "preview"]
    assert replica_stats("sam2")["runs"] == before + 1  # it ran there, not here


def test_an_edit_on_ray_is_byte_identical(cluster: Any, tmp_path: Path, tiny_diffusion: dict) -> None:
    local, remote = both_ways(tmp_path, tiny_diffusion, EDIT, steps=1, seed=2)
    same_results(local, remote)
    assert [a.kind for a in remote.artifacts] == ["mask", "image"]


def test_an_animation_on_ray_is_byte_identical_and_reports_progress(cluster: Any, tmp_path: Path,
                                                                     tiny_diffusion: dict) -> None:
    events: list[dict] = []
    local, remote = both_ways(tmp_path, tiny_diffusion, ANIMATE, events=events, num_frames=2, steps=2, seed=5)
    same_results(local, remote)
    assert [(e["tool"], e["done"], e["total"]) for e in events] == [("animate_image", 1, 2), ("animate_image", 2, 2)]


def test_a_cancel_reaches_the_replica(cluster: Any, tmp_path: Path, tiny_diffusion: dict) -> None:
    before = replica_stats("i2v")["cancelled"]
    events: list[dict] = []
    person = session(tmp_path, weights(tiny_diffusion) + ON_RAY, [ANIMATE],
                     on_progress=lambda event: (events.append(event), person.cancel()))
    person.send("animate it", attachments=[MOTORCYCLE[0]])
    person.edit(num_frames=2, steps=50, seed=1)
    turn = person.approve()
    assert turn.text == "animate_image was cancelled." and not turn.artifacts
    assert person.history()[-1].outcome == "cancelled"
    stats = _settled("i2v")
    assert stats["cancelled"] == before + 1 and stats["ongoing"] == 0  # the tool itself stopped, on the replica
    assert len(events) < 50


def test_a_replica_killed_mid_call_fails_the_step_then_a_retry_runs(cluster: Any, tmp_path: Path,
                                                                     tiny_diffusion: dict) -> None:
    killed = threading.Event()

    def kill_once(event: dict) -> None:
        if event["tool"] == "animate_image" and not killed.is_set():
            killed.set()
            name = next(actor["name"] for actor in ray.util.list_named_actors(all_namespaces=True)
                        if "vitron-i2v" in actor["name"] and "REPLICA" in actor["name"])
            ray.kill(ray.get_actor(name, namespace="serve"), no_restart=True)

    person = session(tmp_path, weights(tiny_diffusion) + ON_RAY, [f"{SEGMENT} {ANIMATE}"], on_progress=kill_once)
    person.send("outline it, then animate it", attachments=[MOTORCYCLE[0]])
    person.edit_step(2, num_frames=2, steps=40, seed=1)
    failed = person.approve()
    assert killed.is_set() and failed.pending is not None
    assert "stopped mid-call" in failed.pending.error and "approve the step again to retry" in failed.pending.error
    assert "Error" not in failed.pending.error
    _healthy("i2v")
    person.edit_step(2, steps=2)
    done = person.approve()
    assert done.pending is None and [a.kind for a in done.artifacts] == ["video"]
    outcomes = [entry.outcome for entry in person.history() if entry.outcome]
    assert outcomes == ["ok", "failed", "ok"]


def test_two_sessions_share_one_replicas_model(cluster: Any, tmp_path: Path, tiny_diffusion: dict) -> None:
    before = replica_stats("sd")
    for name in ("ana", "ben"):
        person = session(tmp_path / name, weights(tiny_diffusion) + ON_RAY, [GENERATE])
        person.send("draw")
        person.edit(steps=1, width=64, height=64, seed=3)
        assert [a.kind for a in person.approve().artifacts] == ["image"]
    after = replica_stats("sd")
    assert after["loads"] == before["loads"] + (0 if before["resident"] else 1) and after["hits"] >= before["hits"] + 1
    assert after["resident"] == [f"StableDiffusionPipeline:{tiny_diffusion['sd']}"]


def test_an_unreachable_cluster_is_said_in_the_decision(cluster: Any, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = f'[execution]\nbackend = "ray"\naddress = "127.0.0.1:{port}"\n[segmentation]\nbackend = "classic"\n'
    person = session(tmp_path, settings, [SEGMENT])
    shown = person.send("outline it", attachments=[MOTORCYCLE[0]]).pending
    line = shown.current.readiness.line("segment_image")
    assert line.startswith("segment_image can't run here: the Ray cluster at 127.0.0.1:") and "reached" in line
    turn = person.approve()
    assert "can't run here" in turn.text and not turn.artifacts


def test_a_request_over_the_limit_is_not_sent(cluster: Any, tmp_path: Path, tiny_diffusion: dict) -> None:
    before = replica_stats("sam2")["runs"]
    person = session(tmp_path, weights(tiny_diffusion) + ON_RAY + "request_bytes = 4096\n", [SEGMENT])
    person.send("outline it", attachments=[MOTORCYCLE[0]])
    turn = person.approve()
    assert "over the 4 KiB limit of [execution] request_bytes" in turn.text
    assert "it was not sent" in turn.text and replica_stats("sam2")["runs"] == before


def test_with_shared_storage_references_cross_instead_of_files(cluster: Any, tmp_path: Path, tiny_diffusion: dict,
                                                                postgres: Any, s3: Any) -> None:
    """On PostgreSQL + S3 the replica fetches the photo from the bucket and puts its outputs there: the request
    fits in 4 KiB, and each output is read back from the bucket into an empty cache, its hash checked."""
    folder = share(tmp_path / "shared", postgres, s3)
    shared = (folder / "vitron.toml").read_text()
    person = session(folder, shared + weights(tiny_diffusion) + ON_RAY + "request_bytes = 4096\n", [SEGMENT])
    person.send("outline it", attachments=[MOTORCYCLE[0]])
    turn = person.approve()
    assert [a.kind for a in turn.artifacts] == ["mask", "preview"], turn.text
    for artifact in turn.artifacts:
        artifact.path.unlink(missing_ok=True)
        assert person.store.local_path(artifact).stat().st_size == artifact.size


def test_address_local_deploys_a_family_on_its_first_call(cluster: Any, tmp_path: Path, tiny_diffusion: dict) -> None:
    assert "vitron-pix2pix" not in serve.status().applications
    settings = weights(tiny_diffusion) + '[execution]\nbackend = "ray"\naddress = "local"\n'
    person = session(tmp_path, settings, ["<module>C</module> <instruction>editing: make it red</instruction>"])
    shown = person.send("make it red", attachments=[MOTORCYCLE[0]]).pending
    assert shown.current.readiness.can_run and shown.current.backend.endswith("on Ray Serve, vitron-pix2pix")
    person.edit(steps=1, seed=4)
    assert [a.kind for a in person.approve().artifacts] == ["image"]
    assert replica_stats("pix2pix")["runs"] == 1
    serve.delete("vitron-pix2pix")


def test_the_vitron_planner_runs_on_its_deployment(cluster: Any, tmp_path: Path, tiny_vitron: dict) -> None:
    """The planner's model generates on the ``vitron`` deployment (deployed on first use with address "local"):
    the same answer as the planner here, streamed as it is generated."""
    from vitron_agent.planners.choose import planner_from_spec
    from vitron_agent.planners.vitron import RayVitronPlanner
    from vitron_agent.workspace import Workspace

    threads = cluster.families["sam2"].num_cpus
    answers = []
    for where, extra in (("here", ""), ("ray", f'{ON_RAY}address = "local"\n[execution.vitron]\nnum_cpus = {threads}\n')):
        folder = tmp_path / where
        folder.mkdir()
        configure(folder, f'[weights.vitron_base]\nsource = "{tiny_vitron["base"]}"\n{extra}')
        workspace = Workspace(folder, import_roots=[ROOT])
        planner = planner_from_spec(f"vitron:{tiny_vitron['lora']}", workspace=workspace)
        assert isinstance(planner, RayVitronPlanner) == (where == "ray")
        planner.max_new_tokens = 8
        streamed: list[str] = []
        planner.on_text = streamed.append
        Session(workspace, planner).send("cut out the motorcycle", attachments=[MOTORCYCLE[0]], region=MOTORCYCLE[1])
        answers.append((str(planner.last_answer), "".join(streamed).strip()))
    assert answers[1] == answers[0] and answers[1][0] == answers[1][1]
    assert replica_stats("vitron")["loads"] == 1
    serve.delete("vitron-vitron")


def test_doctor_shows_each_deployment(cluster: Any) -> None:
    from vitron_agent.ray_execution import deployments

    why, found = deployments(cluster)
    assert why is None
    by_family = {check.family: check for check in found}
    assert set(by_family) == set(FAMILIES)
    assert by_family["sam2"].replicas == 1 and by_family["sam2"].status == "running"
    assert by_family["t2v"].status == "not deployed" and by_family["vitron"].status == "not deployed"


def _settled(family: str, seconds: float = 60) -> dict[str, Any]:
    """The replica's stats once nothing runs there."""
    deadline = time.monotonic() + seconds
    while (stats := replica_stats(family))["ongoing"] and time.monotonic() < deadline:
        time.sleep(0.2)
    return stats


def _healthy(family: str, seconds: float = 120) -> None:
    """Wait until Serve has a replica of ``family`` running again (a guard against hangs, not a timing)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        application = serve.status().applications[f"vitron-{family}"]
        states = application.deployments["ToolReplica"].replica_states
        if str(application.status).endswith("RUNNING") and states.get("RUNNING") == 1 and len(states) == 1:
            return
        time.sleep(0.5)
    raise AssertionError(f"vitron-{family} did not come back")


def test_serve_tools_and_doctor_from_the_command_line(cluster: Any, tmp_path: Path) -> None:
    """``serve-tools`` deploys a family on the running cluster from another process; ``doctor`` lists them all."""
    import subprocess
    import sys

    address = ray.get_runtime_context().gcs_address
    configure(tmp_path, f'[execution]\nbackend = "ray"\naddress = "{address}"\n[execution.t2v]\nnum_cpus = 0.5\n')
    command = [str(Path(sys.executable).with_name("vitron-agent"))]
    served = subprocess.run([*command, "serve-tools", "--family", "t2v", "--workspace", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert served.returncode == 0, served.stderr
    assert "Ray Serve deployments" in served.stdout and "t2v" in served.stdout
    doctor = subprocess.run([*command, "doctor", "--workspace", str(tmp_path)], capture_output=True, text=True,
                            timeout=300)
    assert doctor.returncode == 0 and "Traceback" not in doctor.stdout + doctor.stderr
    assert f"ray at {address}" in doctor.stdout
    cells = [[cell.strip() for cell in line.split("│")] for line in doctor.stdout.splitlines() if "│" in line]
    rows = {row[0]: row[1:4] for row in cells if row[0] in FAMILIES}
    assert rows["t2v"] == ["running", "1", "0"] and rows["sam2"][:2] == ["running", "1"]
    assert rows["pix2pix"][:2] == ["not deployed", "0"]
    serve.delete("vitron-t2v")
