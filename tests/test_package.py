"""The package installs under the names DESIGN.md fixes, stays light to import, and README and CI agree."""

from __future__ import annotations

import re
import subprocess
import sys

import vitron_agent

from conftest import ROOT


def test_import_does_not_load_torch_ray_or_pydantic() -> None:
    code = "import vitron_agent, sys; print(*(name in sys.modules for name in ('torch', 'ray', 'pydantic')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


def test_every_public_name_resolves() -> None:
    for name in vitron_agent.__all__:
        assert getattr(vitron_agent, name) is not None
    assert vitron_agent.Module("B").tool == "segment_image"


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        vitron_agent.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_mapped_packages_are_importable_under_the_package() -> None:
    import vitron_agent.graphs
    import vitron_agent.prompts
    import vitron_agent.tools

    assert vitron_agent.tools.__file__.replace("\\", "/").endswith("tools/__init__.py")
    assert "tools" not in sys.modules  # no bare top-level package is claimed


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    command = next(line.split("=", 1)[1].strip().strip("'") for line in ci.splitlines()
                   if line.startswith("TEST_COMMAND="))
    assert f"\n{command}\n" in readme


def test_nothing_reaches_for_media_outside_the_repository() -> None:
    """The suite, the benchmarks and the examples read only the media the project carries (examples/media,
    tests/data), so a clone with nothing beside it runs them."""
    outside = re.compile("|".join([r"\.\./" + "shared", r'"shared"\s*/\s*"data"', "VITRON_" + "SAMPLE_DATA"]))
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    named = []
    for name in tracked.split():
        path = ROOT / name
        if path.suffix in {".py", ".md", ".toml", ".json", ".txt", ""} and path.is_file():
            text = path.read_text(errors="ignore")
            named += [f"{name}: {match.group(0)}" for match in outside.finditer(text)]
    assert not named, named
    assert (ROOT / "tests" / "data" / "README.md").is_file() and (ROOT / "examples" / "media" / "README.md").is_file()


def test_ci_installs_the_core_exactly_as_the_readmes_first_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    install = next(line.split("=", 1)[1].strip().strip("'") for line in ci.splitlines()
                   if line.startswith("FIRST_INSTALL="))
    first = next(line for line in readme.splitlines() if line.startswith("python3 -m venv .venv && "))
    assert first.startswith(install + " && "), (install, first)
