"""The package installs under the names DESIGN.md fixes, stays light to import, and README and CI agree."""

from __future__ import annotations

import subprocess
import sys

import vitron_agent

from conftest import ROOT


def test_import_does_not_load_torch_or_pydantic() -> None:
    code = "import vitron_agent, sys; print('torch' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


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
