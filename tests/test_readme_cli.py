"""The README's CLI list names every command of ``alephee --help`` and every option of each."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from alephee.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def cli_commands() -> dict[str, list[str]]:
    """``"group command"`` → its option flags (``--x`` and the ``--no-x`` form of switches), from the app."""
    out: dict[str, list[str]] = {}

    def walk(command: Any, path: list[str]) -> None:
        if getattr(command, "commands", None):  # a group (Typer ships its own copy of Click: duck typing)
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        flags = [
            flag
            for param in command.params
            if param.param_type_name == "option"
            for flag in (*param.opts, *param.secondary_opts)
            if flag.startswith("--") and flag != "--help"
        ]
        out[" ".join(path)] = flags

    walk(typer.main.get_command(app), [])
    return out


def readme_commands() -> dict[str, str]:
    """``"group command"`` → its README line (continuation lines joined), from the CLI section's block."""
    section = README.read_text(encoding="utf-8").split("\n## CLI\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    lines: list[str] = []
    for line in block.splitlines():
        if line.startswith("alephee "):
            lines.append(line)
        elif line.strip() and lines:
            lines[-1] += " " + line.strip()
    out: dict[str, str] = {}
    for line in lines:
        words = line.split("#", 1)[0].split()[1:]
        path = []
        for word in words:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            path.append(word)
        out[" ".join(path)] = line
    return out


def test_readme_lists_every_command_and_option() -> None:
    cli, readme = cli_commands(), readme_commands()
    assert sorted(readme) == sorted(cli), "README CLI commands differ from alephee --help"
    missing = {
        path: [flag for flag in flags if not re.search(rf"{re.escape(flag)}(?![a-z-])", readme[path])]
        for path, flags in cli.items()
    }
    assert {path: flags for path, flags in missing.items() if flags} == {}
