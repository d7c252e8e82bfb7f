"""requirements.lock (what the image installs and pip-audit audits) pins the whole runtime closure."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)$")


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line.strip())
        assert match, f"requirements.lock: not an exact pin: {line!r}"
        pins[canonicalize_name(match["name"])] = match["version"]
    return pins


def direct_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def runtime_closure() -> set[str]:
    """Every distribution psp needs at run time here, following the installed packages' metadata."""
    seen: set[str] = set()
    pending = [(requirement, "") for requirement in direct_requirements()]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        extras = sorted(requirement.extras)
        key_seen = name in seen
        seen.add(name)
        if key_seen and not extras:
            continue
        for dependency in metadata.requires(requirement.name) or []:
            for wanted in extras or [""]:
                pending.append((Requirement(dependency), wanted))
    return seen


def test_every_direct_dependency_is_pinned_within_its_range_in_pyproject() -> None:
    pins = locked()

    for requirement in direct_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is a dependency but not in requirements.lock"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {requirement}"


def test_the_lock_pins_every_package_the_runtime_needs_and_nothing_else() -> None:
    closure, pins = runtime_closure(), set(locked())

    assert sorted(closure - pins) == [], "needed at run time but missing from requirements.lock"
    assert sorted(pins - closure) == [], "pinned in requirements.lock but needed by nothing"
