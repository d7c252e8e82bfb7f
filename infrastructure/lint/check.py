"""Static checks of the deployment artefacts; `make lint-infra` runs this inside `.venv-infra`.

1. Every Terraform file parses (python-hcl2); ECS secrets arrive through Secrets Manager only.
2. checkov reports no failed check for Terraform, the Dockerfile and the CI workflow, and every
   suppression is an inline `#checkov:skip=CKV_...:<reason>` with a written reason.
3. The workflow validates against the GitHub Actions workflow schema and docker-compose.yml against
   the Compose specification (check-jsonschema's vendored schemas: no network needed).
4. The Dockerfile and docker-compose.yml parse and keep their shape (multi-stage, non-root, health
   check; the services the README promises).
5. Every PSP_* variable set by docker-compose.yml, the Dockerfile or the Terraform is declared in
   src/psp/config.py's SETTINGS (read with ast: psp itself is not installed here).

Exits non-zero listing every problem found; prints what passed.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import yaml
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infrastructure"
CONFIG = ROOT / "src" / "psp" / "config.py"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
BIN = Path(sys.executable).parent

PSP_NAME = re.compile(r"\bPSP_[A-Z0-9_]+\b")
SKIP_COMMENT = re.compile(r"checkov:skip=(?P<id>[^:\s]*)(?::(?P<reason>.*))?")
CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")
MIN_REASON_CHARS = 20
SECRET_SETTINGS = {"PSP_DATABASE_URL", "PSP_CARD_FINGERPRINT_KEY", "PSP_DATA_ENCRYPTION_KEY"}
COMPOSE_SERVICES = {"postgres", "sqs", "migrate", "queues", "api", "relay", "worker", "webhooks", "scheduler"}
PSP_COMMANDS = {
    ("psp", "serve"),
    ("psp", "relay"),
    ("psp", "worker", "payables"),
    ("psp", "worker", "webhooks"),
    ("psp", "jobs", "settle"),
    ("psp", "jobs", "resolve-processing"),
    ("psp", "jobs", "prune-idempotency-keys"),
    ("psp", "db", "upgrade"),
    ("psp", "queues", "create"),
    ("psp", "scheduler"),
}

problems: list[str] = []


def problem(message: str) -> None:
    problems.append(message)
    print(f"  FAIL {message}")


def ok(message: str) -> None:
    print(f"  ok   {message}")


def rel(path: Path | str) -> str:
    return str(Path(path).resolve().relative_to(ROOT))


# --- settings ---------------------------------------------------------------------------------------
def declared_settings() -> set[str]:
    """The env names of every `Setting("PSP_...", ...)` call in config.py."""
    tree = ast.parse(CONFIG.read_text(), filename=str(CONFIG))
    names = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Setting"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }
    if not names:
        problem(f"no Setting(...) declarations found in {rel(CONFIG)}")
    return names


def check_names(origin: str, names: set[str], declared: set[str]) -> None:
    unknown = sorted(names - declared)
    if unknown:
        problem(f"{origin} sets PSP_* variables not declared in src/psp/config.py: {', '.join(unknown)}")
    else:
        ok(f"{origin}: all {len(names)} PSP_* variables are declared settings")


# --- Terraform --------------------------------------------------------------------------------------
def walk_strings(node: Any) -> Iterator[str]:
    """Every key and string value in a parsed HCL tree (expressions come back as `${...}` strings)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from walk_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_strings(item)
    elif isinstance(node, str):
        yield node


def first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def check_terraform(declared: set[str]) -> None:
    print("terraform: parse (python-hcl2)")
    files = sorted(INFRA.glob("*.tf"))
    if not files:
        problem("no *.tf files under infrastructure/")
        return
    parsed: dict[str, dict[str, Any]] = {}
    for path in files:
        try:
            with path.open() as handle:
                parsed[path.name] = hcl2.load(handle)
        except Exception as error:  # the parser raises several unrelated types
            problem(f"{rel(path)} does not parse: {error}")
    ok(f"{len(parsed)}/{len(files)} files parse: {', '.join(parsed)}")

    names = {
        match for tree in parsed.values() for text in walk_strings(tree) for match in PSP_NAME.findall(text)
    }
    check_names("terraform", names, declared)
    check_task_definitions(parsed)


def check_task_definitions(parsed: dict[str, dict[str, Any]]) -> None:
    # The production secrets reach containers only through the task definitions' `secrets` block.
    local_values: dict[str, Any] = {}
    for tree in parsed.values():
        for block in tree.get("locals", []):
            local_values.update(block)
    secrets = first(local_values.get("psp_secrets"))
    if not isinstance(secrets, dict) or set(secrets) != SECRET_SETTINGS:
        problem(f"local.psp_secrets must map exactly {sorted(SECRET_SETTINGS)} to Secrets Manager ARNs")
    elif not all("aws_secretsmanager_secret." in str(value) for value in secrets.values()):
        problem("local.psp_secrets values must be aws_secretsmanager_secret ARNs")
    else:
        ok(f"{', '.join(sorted(SECRET_SETTINGS))} come from Secrets Manager (local.psp_secrets)")
    for key in ("psp_environment", "api_environment"):
        leaked = SECRET_SETTINGS & set(PSP_NAME.findall(json.dumps(local_values.get(key))))
        if leaked:
            problem(f"local.{key} sets {sorted(leaked)} as plain environment; use local.psp_secrets")
    ecs = (INFRA / "ecs.tf").read_text()
    if "local.psp_secrets" not in ecs or "valueFrom" not in ecs:
        problem("ecs.tf task definitions must pass local.psp_secrets as `secrets` (valueFrom)")

    tasks = first(local_values.get("tasks"))
    if isinstance(tasks, dict):
        for name, task in tasks.items():
            command = tuple(first(task).get("command", []))
            if command not in PSP_COMMANDS:
                problem(f"terraform task {name!r} runs unknown command {' '.join(command)!r}")
        ok(f"terraform tasks run known psp commands: {', '.join(sorted(tasks))}")
    else:
        problem("local.tasks (the task definitions' commands) not found")


# --- Dockerfile -------------------------------------------------------------------------------------
def check_dockerfile(declared: set[str]) -> None:
    print("Dockerfile: parse (dockerfile-parse)")
    parser = DockerfileParser(path=str(DOCKERFILE))
    structure = parser.structure
    if not structure:
        problem("Dockerfile is empty or does not parse")
        return
    froms = [line for line in structure if line["instruction"] == "FROM"]
    if len(froms) < 2:
        problem("Dockerfile must be multi-stage (a build stage and a runtime stage)")
    if not all(line["value"].split()[0].startswith("python:3.12-slim") for line in froms):
        problem("every Dockerfile stage must start FROM python:3.12-slim")
    final_start = structure.index(froms[-1])
    final = structure[final_start:]
    users = [line["value"].strip() for line in final if line["instruction"] == "USER"]
    if not users or users[-1].split(":")[0] in {"root", "0"}:
        problem("the runtime stage must switch to a non-root USER")
    healthchecks = [line["value"] for line in final if line["instruction"] == "HEALTHCHECK"]
    if not healthchecks or "/healthz" not in healthchecks[-1]:
        problem("the runtime stage needs a HEALTHCHECK that probes /healthz")
    cmds = [line["value"] for line in final if line["instruction"] == "CMD"]
    if not cmds or json.loads(cmds[-1]) != ["psp", "serve"]:
        problem('the image CMD must be ["psp", "serve"]')
    ok(f"{len(froms)} stages, USER {users[-1] if users else '?'}, HEALTHCHECK on /healthz, CMD psp serve")

    names: set[str] = set()
    for line in structure:
        if line["instruction"] in {"ENV", "ARG"}:
            names.update(PSP_NAME.findall(line["value"]))
    check_names("Dockerfile", names, declared)


# --- docker-compose.yml -----------------------------------------------------------------------------
def environment_names(environment: Any) -> set[str]:
    if isinstance(environment, dict):
        return {str(key) for key in environment}
    if isinstance(environment, list):
        return {str(item).split("=", 1)[0] for item in environment}
    return set()


def check_compose(declared: set[str]) -> None:
    print("docker-compose.yml: parse (PyYAML)")
    document = yaml.safe_load(COMPOSE.read_text())
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict):
        problem("docker-compose.yml has no services mapping")
        return
    missing = COMPOSE_SERVICES - set(services)
    if missing:
        problem(f"docker-compose.yml lacks services: {', '.join(sorted(missing))}")
    ok(f"services: {', '.join(services)}")

    names: set[str] = set()
    for name, service in services.items():
        env = environment_names(service.get("environment"))
        names.update(key for key in env if key.startswith("PSP_"))
        command = service.get("command")
        if isinstance(command, list) and command[:1] == ["psp"] and tuple(command) not in PSP_COMMANDS:
            problem(f"compose service {name!r} runs unknown command {' '.join(command)!r}")
        if isinstance(command, str):
            problem(f"compose service {name!r}: write command as a list (exec form)")
    check_names("docker-compose.yml", names, declared)


# --- schemas ----------------------------------------------------------------------------------------
def check_schemas() -> None:
    print("schemas: check-jsonschema (vendored schemas, offline)")
    for schema, path in (("vendor.github-workflows", WORKFLOW), ("vendor.compose-spec", COMPOSE)):
        result = subprocess.run(  # noqa: S603 - fixed argv, tool from this venv
            [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            problem(f"{rel(path)} fails {schema}:\n{result.stdout}{result.stderr}")
        else:
            ok(f"{rel(path)} validates against {schema}")


# --- checkov ----------------------------------------------------------------------------------------
def run_checkov(arguments: list[str]) -> list[dict[str, Any]]:
    # Offline: no guideline mapping download (checks are suppressed by CKV ids, not BC ids).
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE")
    result = subprocess.run(  # noqa: S603 - fixed argv, tool from this venv
        [str(BIN / "checkov"), *arguments, "--output", "json", "--skip-download"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
    )
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        output = f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        problem(f"checkov {' '.join(arguments)} produced no JSON report:\n{output}")
        return []
    return reports if isinstance(reports, list) else [reports]


def check_checkov() -> None:
    print("checkov")
    reports = run_checkov(["--directory", "infrastructure", "--framework", "terraform"])
    files = ["--file", rel(DOCKERFILE), "--file", rel(WORKFLOW)]
    reports += run_checkov([*files, "--framework", "dockerfile", "github_actions"])
    seen = {report.get("check_type") for report in reports}
    for expected in ("terraform", "dockerfile", "github_actions"):
        if expected not in seen:
            problem(f"checkov produced no {expected} report")
    for report in reports:
        summary = report.get("summary", {})
        results = report.get("results", {})
        print(
            f"  {report.get('check_type')}: passed {summary.get('passed')}, failed {summary.get('failed')}, "
            f"skipped {summary.get('skipped')}, parsing errors {summary.get('parsing_errors')}"
        )
        if summary.get("parsing_errors"):
            problem(f"checkov could not parse some {report.get('check_type')} files")
        for failed in results.get("failed_checks", []):
            problem(
                f"checkov {failed['check_id']} ({failed['check_name']}) failed for {failed['resource']} "
                f"at {failed['file_path']}:{failed['file_line_range'][0]}"
            )
        for skipped in results.get("skipped_checks", []):
            reason = (skipped.get("check_result", {}).get("suppress_comment") or "").strip()
            if reason == "No comment provided":  # checkov's placeholder for a bare `checkov:skip=ID`
                reason = ""
            print(f"    skip {skipped['check_id']} {skipped['resource']}: {reason or '(no reason)'}")
            if len(reason) < MIN_REASON_CHARS:
                problem(f"checkov {skipped['check_id']} skipped for {skipped['resource']} without a reason")


def check_skip_comments() -> None:
    """Every suppression names one check and says why, next to the resource it applies to."""
    print("checkov suppressions")
    paths = [*sorted(INFRA.glob("*.tf")), DOCKERFILE, WORKFLOW, COMPOSE]
    count = 0
    for path in paths:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = SKIP_COMMENT.search(line)
            if not match:
                continue
            count += 1
            reason = (match["reason"] or "").strip()
            if not CHECK_ID.match(match["id"]):
                problem(f"{rel(path)}:{number}: skip must name one CKV_/CKV2_ check id, got {match['id']!r}")
            if len(reason) < MIN_REASON_CHARS:
                problem(f"{rel(path)}:{number}: skip of {match['id']} needs a written reason (`:why`)")
    ok(f"{count} inline suppressions, each naming a check and a reason")


def main() -> int:
    declared = declared_settings()
    print(f"settings: {len(declared)} PSP_* variables declared in {rel(CONFIG)}")
    check_terraform(declared)
    check_dockerfile(declared)
    check_compose(declared)
    check_schemas()
    check_skip_comments()
    check_checkov()
    if problems:
        print(f"\nlint-infra: {len(problems)} problem(s)")
        return 1
    print("\nlint-infra: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
