"""The dependency rule, checked on every run: dependencies point inward, never outward."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from psp.config import SETTINGS

SOURCE = Path(__file__).resolve().parents[2] / "src" / "psp"
README = Path(__file__).resolve().parents[2] / "README.md"

ADAPTER_LIBRARIES = {
    "flask",
    "werkzeug",
    "sqlalchemy",
    "psycopg",
    "boto3",
    "botocore",
    "gunicorn",
    "alembic",
    "cryptography",
}

# For each inner layer, the psp packages it may import.
ALLOWED = {
    "domain": ("psp.domain", "psp.lib.errors"),
    "services": ("psp.domain", "psp.lib", "psp.services", "psp.repositories.ports"),
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_inner_layers_import_no_adapter_library_and_no_outer_layer(layer: str) -> None:
    offences = []
    for path in sorted((SOURCE / layer).rglob("*.py")):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in ADAPTER_LIBRARIES:
                offences.append(f"{path.relative_to(SOURCE)} imports {name}")
            if top == "psp" and not name.startswith(ALLOWED[layer]):
                offences.append(f"{path.relative_to(SOURCE)} imports {name}")
    assert offences == []


def test_no_module_creates_an_engine_or_client_at_import_time() -> None:
    offences = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            for call in ast.walk(node) if isinstance(node, ast.Assign | ast.Expr) else []:
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute | ast.Name):
                    name = call.func.attr if isinstance(call.func, ast.Attribute) else call.func.id
                    if name in {
                        "create_engine",
                        "build_engine",
                        "client",
                        "resource",
                        "create_app",
                        "bootstrap",
                    }:
                        offences.append(f"{path.relative_to(SOURCE)}:{call.lineno} calls {name}()")
    assert offences == []


def test_the_readme_documents_every_setting_and_no_other() -> None:
    documented = set(re.findall(r"^\| `(PSP_[A-Z0-9_]+)` \|", README.read_text(), flags=re.MULTILINE))
    declared = {setting.env for setting in SETTINGS}
    assert documented == declared
