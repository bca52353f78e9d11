"""The GitHub workflows: linted with actionlint and yamllint, and shaped as the README promises
(a preview per stack commented on each pull request, `up` on main with prod behind an environment,
dependencies cached, secrets only through `secrets.*`, never on a command line)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import harness

GITHUB = harness.ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTION = GITHUB / "actions" / "setup-stack" / "action.yml"
YAML_FILES = [*WORKFLOWS, ACTION, harness.ROOT / "Pulumi.yaml", *sorted((harness.ROOT / "stacks").glob("*.yaml"))]


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert path, f"{name} is installed with requirements-dev.txt"
    return path


def _load(path: Path) -> dict:
    # PyYAML reads the `on:` key as True.
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def test_actionlint():
    result = subprocess.run([_tool("actionlint"), "-color=false"], cwd=harness.ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.nope.nope }}\n        shell: bash\n        timeout: 3\n")
    result = subprocess.run([_tool("actionlint"), "-color=false"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode != 0


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(harness.ROOT)))
def test_yamllint(path):
    result = subprocess.run([_tool("yamllint"), "-s", "-c", str(harness.ROOT / ".yamllint.yaml"), str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _pulumi_steps(workflow: dict, command: str) -> list[tuple[dict, dict]]:
    return [(job, step) for job in workflow["jobs"].values() for step in _steps(job)
            if str(step.get("uses", "")).startswith("pulumi/actions@") and step.get("with", {}).get("command") == command]


def test_pull_requests_get_a_commented_preview_of_every_stack():
    workflow = _load(GITHUB / "workflows" / "preview.yml")
    assert "pull_request" in workflow["on"]
    assert workflow["permissions"]["pull-requests"] == "write"
    [(job, step)] = _pulumi_steps(workflow, "preview")
    assert step["with"]["comment-on-pr"] is True and step["with"]["diff"] is True
    assert sorted(job["strategy"]["matrix"]["stack"]) == harness.stack_names()
    assert any("make test" in s.get("run", "") for s in _steps(workflow["jobs"]["test"]))


def test_main_runs_up_stack_by_stack_with_an_environment_each():
    workflow = _load(GITHUB / "workflows" / "deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    [(job, step)] = _pulumi_steps(workflow, "up")
    assert job["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]
    assert job["strategy"]["max-parallel"] == 1
    assert job["environment"] == "${{ matrix.stack }}"


def test_dependencies_are_installed_and_cached():
    action = _load(ACTION)
    setup = next(s for s in action["runs"]["steps"] if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"
    assert any("pip install" in s.get("run", "") and "requirements.txt" in s["run"] for s in action["runs"]["steps"])
    # Every job that runs Pulumi sets up through the action; the test job caches pip itself.
    for workflow in WORKFLOWS:
        for job in _load(workflow)["jobs"].values():
            uses = [str(step.get("uses", "")) for step in _steps(job)]
            if any(u.startswith("pulumi/actions@") for u in uses):
                assert "./.github/actions/setup-stack" in uses, workflow.name
            else:
                setup = next(s for s in _steps(job) if str(s.get("uses", "")).startswith("actions/setup-python"))
                assert setup["with"]["cache"] == "pip"


_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")


def test_secrets_never_appear_in_a_command_line():
    """`run:` scripts read secrets from environment variables; no expression is expanded into a script."""
    for path in [*WORKFLOWS, ACTION]:
        data = _load(path)
        jobs = data.get("jobs", {}).values() if "jobs" in data else [{"steps": data["runs"]["steps"]}]
        for job in jobs:
            for step in _steps(job):
                script = step.get("run", "")
                assert not _EXPRESSION.search(script), f"{path.name}: an expression inside run: {script!r}"
        for expression in _EXPRESSION.findall(path.read_text()):
            if "secrets" in expression:
                assert "echo" not in expression


def test_stack_keys_go_through_stdin():
    text = ACTION.read_text()
    assert re.search(r"printf '%s' \"\$ACCESS_KEY_ID\" \| pulumi config set --secret", text)
    assert "config set --secret --stack \"$STACK\" sigsci:accessKeyId \"$" not in text
