"""The commands the deployment files run (as the infra lint knows them) exist in the psp CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest

from psp.transporters.cli import main

CHECK_SCRIPT = Path(__file__).resolve().parents[2] / "infrastructure" / "lint" / "check.py"


def deployed_commands() -> list[tuple[str, ...]]:
    tree = ast.parse(CHECK_SCRIPT.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "PSP_COMMANDS" for target in node.targets
        ):
            return sorted(ast.literal_eval(node.value))
    raise AssertionError("PSP_COMMANDS not found in infrastructure/lint/check.py")


@pytest.mark.parametrize("command", deployed_commands(), ids=" ".join)
def test_every_command_the_deployment_runs_exists_in_the_cli(command: tuple[str, ...]) -> None:
    group: click.Command = main
    for name in command[1:]:
        assert isinstance(group, click.Group), f"{' '.join(command)}: {group.name} has no subcommands"
        found = group.get_command(click.Context(group), name)
        assert found is not None, f"{' '.join(command)}: no '{name}' command"
        group = found
