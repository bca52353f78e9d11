"""The GitHub workflows: linted with actionlint, yamllint and zizmor, and shaped as docs/ci.md promises.

The security properties (docs/ci.md): pull-request code never gets a production credential (prod is
previewed on main only; every other preview runs in a `<stack>-preview` environment with read-only
credentials); production keys live only in the deploy job's environment; no `secrets[...]` lookup (it hands
the whole secrets context to the runner); the stack passphrase only in the steps that use it; actions pinned
by commit SHA with their version in a comment; the state backend reached with an OIDC login; the policy pack
on every preview and deploy; dependencies cached; secrets never on a command line. And the test jobs hand the
tests the charts' reference values, fetched with a pinned helm at the versions the package pins.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import harness
import reference
from sigsci_waf.ingress.flavours import FLAVOURS

GITHUB = harness.ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTION = GITHUB / "actions" / "setup-stack" / "action.yml"
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
REFERENCE_DATA = "./.github/actions/reference-data"
DEPENDABOT = GITHUB / "dependabot.yml"
YAML_FILES = [*WORKFLOWS, *ACTIONS, DEPENDABOT, harness.ROOT / "Pulumi.yaml",
              *sorted((harness.ROOT / "stacks").glob("*.yaml"))]
PRODUCTION = {"prod"}  # stacks whose credentials pull-request code must never see (docs/ci.md)
SETUP = "./.github/actions/setup-stack"
PASSPHRASE = "PULUMI_CONFIG_PASSPHRASE"


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


def _workflow(name: str) -> dict:
    return _load(GITHUB / "workflows" / f"{name}.yml")


# -- linters ----------------------------------------------------------------------------------------------------

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


def _zizmor(target: Path) -> list[dict]:
    """zizmor's findings (offline: no GitHub API), as (audit, severity, file:line) dicts."""
    done = subprocess.run([_tool("zizmor"), "--offline", "--format", "json", str(target)],
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.strip(), done.stderr[-3000:]
    findings = []
    for finding in json.loads(done.stdout):
        location = finding["locations"][0]
        findings.append({"audit": finding["ident"], "severity": finding["determinations"]["severity"],
                         "where": f"{location['symbolic']['key']}:"
                                  f"{location['concrete']['location']['start_point']['row'] + 1}"})
    return findings


SERIOUS = {"Medium", "High"}


def test_zizmor_finds_nothing_of_medium_severity_or_above():
    serious = [f for f in _zizmor(GITHUB) if f["severity"] in SERIOUS]
    assert serious == []


def test_zizmor_flags_a_dangerous_workflow(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request_target\n"
        "permissions: write-all\n"
        "jobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n"
        "      - run: pulumi preview\n"
        "        env:\n          KUBECONFIG: ${{ secrets[format('KUBECONFIG_{0}', github.head_ref)] }}\n")
    audits = {f["audit"] for f in _zizmor(tmp_path / ".github") if f["severity"] in SERIOUS}
    assert {"dangerous-triggers", "template-injection", "unpinned-uses", "overprovisioned-secrets"} <= audits


# -- shape -------------------------------------------------------------------------------------------------------

def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _jobs() -> list[tuple[str, str, dict]]:
    return [(path.stem, name, job) for path in WORKFLOWS for name, job in _load(path)["jobs"].items()]


def _all_steps() -> list[tuple[str, dict]]:
    """Every step of every workflow job and of the composite actions, with where it is."""
    steps = [(f"{wf}.{name}", step) for wf, name, job in _jobs() for step in _steps(job)]
    return steps + [(path.parent.name, step) for path in ACTIONS for step in _load(path)["runs"]["steps"]]


def _pulumi_steps(workflow: dict, command: str) -> list[tuple[dict, dict]]:
    return [(job, step) for job in workflow["jobs"].values() for step in _steps(job)
            if str(step.get("uses", "")).startswith("pulumi/actions@") and step.get("with", {}).get("command") == command]


def _setup(job: dict) -> dict:
    [step] = [s for s in _steps(job) if s.get("uses") == SETUP]
    return step["with"]


def test_pull_requests_preview_the_non_production_stacks_with_preview_credentials():
    workflow = _workflow("preview")
    assert list(workflow["on"]) == ["pull_request"]  # never pull_request_target: no secrets for fork code
    [(job, step)] = _pulumi_steps(workflow, "preview")
    stacks = job["strategy"]["matrix"]["stack"]
    assert not set(stacks) & PRODUCTION
    assert sorted(stacks) == sorted(set(harness.stack_names()) - PRODUCTION)
    assert job["environment"] == "${{ matrix.stack }}-preview"
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert step["with"]["comment-on-pr"] is True and step["with"]["diff"] is True
    assert _setup(job).get("create-stack", "false") == "false"  # a preview never writes a new stack
    assert job["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    assert any("make test" in s.get("run", "") for s in _steps(workflow["jobs"]["test"]))


def test_main_previews_every_stack_then_runs_up_stack_by_stack_in_its_environment():
    workflow = _workflow("deploy")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    [(preview_job, preview)] = _pulumi_steps(workflow, "preview")
    assert sorted(preview_job["strategy"]["matrix"]["stack"]) == harness.stack_names()
    assert preview_job["environment"] == "${{ matrix.stack }}-preview"
    assert _setup(preview_job).get("create-stack", "false") == "false"
    assert preview["with"]["comment-on-summary"] is True  # what prod's reviewers read before approving
    [(job, step)] = _pulumi_steps(workflow, "up")
    assert job["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]
    assert job["strategy"]["max-parallel"] == 1
    assert job["environment"] == "${{ matrix.stack }}"
    assert job["needs"] == "preview" and preview_job["needs"] == "test"
    assert any("make test" in s.get("run", "") for s in _steps(workflow["jobs"]["test"]))


def test_each_up_is_proven_by_make_verify_before_the_next_stack():
    """After its `pulumi up`, each stack's entries are proven inspected (scripts/verify.py) in the same job, with
    the job's kubeconfig and backend, and kubectl installed by a pinned action; no passphrase, no secret. A failed
    proof fails the job, and the matrix's fail-fast, one stack at a time, stops the later stacks."""
    import shlex

    job = _workflow("deploy")["jobs"]["up"]
    steps = _steps(job)
    [(_, up)] = _pulumi_steps(_workflow("deploy"), "up")
    [verify] = [i for i, s in enumerate(steps) if "scripts/verify.py" in s.get("run", "")]
    [kubectl] = [i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("azure/setup-kubectl@")]
    assert steps.index(up) < verify and kubectl < verify
    assert re.fullmatch(r"v\d+\.\d+\.\d+", steps[kubectl]["with"]["version"])
    step = steps[verify]
    assert step["env"] == {"KUBECONFIG": "${{ runner.temp }}/kubeconfig",
                           "PULUMI_BACKEND_URL": "${{ vars.PULUMI_BACKEND_URL }}",
                           "STACK": "${{ matrix.stack }}", "ALLOW_UNKNOWN": "${{ matrix.allow-unknown }}"}
    assert "secrets." not in json.dumps(step) and PASSPHRASE not in json.dumps(step)
    assert job["strategy"]["fail-fast"] is True and job["strategy"]["max-parallel"] == 1
    # The command runs as written: the script's own parser takes it.
    argv = shlex.split(step["run"])
    assert argv[:2] == ["python", "scripts/verify.py"] and argv[2:4] == ["--stack", "$STACK"]
    parsed = _verify_script().parse_args([a.replace("$STACK", "dev").replace("$ALLOW_UNKNOWN", "") for a in argv[2:]])
    assert parsed.stack == "dev" and parsed.attempts * parsed.interval >= 60


def test_only_unprovable_entries_may_stay_unknown():
    """The entries the workflow lets stay unknown are module apps of that stack: their agent writes no access
    line, and their app does not echo request headers, so nothing can prove them."""
    matrix = _workflow("deploy")["jobs"]["up"]["strategy"]["matrix"]
    allowed = {item["stack"]: item["allow-unknown"] for item in matrix.get("include", [])}
    assert set(allowed) <= set(matrix["stack"])
    for stack, keys in allowed.items():
        apps = {f"{a.get('namespace', 'default')}/{a['name']}": a for a in harness.stack_config(stack)["sigsci:apps"]}
        for key in keys.split(","):
            assert apps[key].get("placement") == "module", f"{stack}: {key}"
    # Every stack routes the ingress controller and the Gateway to its echo: those rows are always provable.
    for stack in matrix["stack"]:
        assert harness.stack_config(stack)["sigsci:verify"] == {"echo": True}, stack


def _verify_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("verify_script", harness.ROOT / "scripts" / "verify.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["verify_script"] = module  # dataclasses resolve their annotations through the module
    spec.loader.exec_module(module)
    return module


def test_every_stack_is_previewed_with_the_policy_pack():
    previewed = set()
    for workflow in ("preview", "deploy"):
        for job, step in _pulumi_steps(_workflow(workflow), "preview"):
            previewed |= set(job["strategy"]["matrix"]["stack"])
    assert previewed == set(harness.stack_names())
    for workflow in ("preview", "deploy"):
        for command in ("preview", "up"):
            for _, step in _pulumi_steps(_workflow(workflow), command):
                assert step["with"]["policyPacks"] == "policy"
                assert step["with"]["policyPackConfigs"] == "policy/config.${{ matrix.stack }}.json"


def test_no_lookup_of_the_whole_secrets_context():
    for path in [*WORKFLOWS, *ACTIONS]:
        assert "secrets[" not in path.read_text(), path.name


def test_secrets_only_in_jobs_with_an_environment():
    """A repository secret reaches every workflow of every branch; an environment's only the jobs it allows."""
    for workflow, name, job in _jobs():
        text = yaml.safe_dump(job)
        if "secrets." in text:
            assert job.get("environment"), f"{workflow}.{name} reads secrets outside an environment"


def test_the_passphrase_only_in_the_steps_that_use_it():
    for path in WORKFLOWS:
        data = _load(path)
        assert PASSPHRASE not in data.get("env", {}), path.name
        for name, job in data["jobs"].items():
            assert PASSPHRASE not in job.get("env", {}), f"{path.name}.{name}"
    for where, step in _all_steps():
        uses = str(step.get("uses", ""))
        if PASSPHRASE in step.get("env", {}):
            assert uses.startswith("pulumi/actions@") and step["with"].get("command") \
                or "pulumi stack select" in step.get("run", ""), where
        elif uses == SETUP:
            assert step["with"]["passphrase"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}", where
        else:
            assert PASSPHRASE not in json.dumps(step), where


_PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)(?:\s+#\s*(?P<comment>\S+))?\s*$")


def _uses_lines() -> list[tuple[str, re.Match]]:
    lines = []
    for path in [*WORKFLOWS, *ACTIONS]:
        for line in path.read_text().splitlines():
            if re.match(r"^\s*(?:-\s+)?uses:", line) and "./" not in line:
                match = _PINNED.match(line)
                assert match, f"{path.name}: cannot read {line!r}"
                lines.append((path.name, match))
    return lines


def test_actions_are_pinned_by_commit_sha_with_their_version():
    lines = _uses_lines()
    assert len(lines) >= 8
    for name, match in lines:
        assert re.fullmatch(r"[0-9a-f]{40}", match["ref"]), f"{name}: {match['action']} is not pinned by SHA"
        assert match["comment"] and re.fullmatch(r"v\d+\.\d+\.\d+", match["comment"]), \
            f"{name}: {match['action']} has no version comment"
    # One action, one pin: every use of an action names the same commit and version.
    pins: dict[str, set] = {}
    for _, match in lines:
        pins.setdefault(match["action"], set()).add((match["ref"], match["comment"]))
    assert all(len(p) == 1 for p in pins.values()), pins


def test_the_current_major_of_pulumi_actions():
    versions = {m["comment"] for _, m in _uses_lines() if m["action"] == "pulumi/actions"}
    assert versions and all(v.startswith("v7.") for v in versions)


def test_checkouts_do_not_persist_the_token():
    for where, step in _all_steps():
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, where


def test_least_privilege_permissions():
    for path in WORKFLOWS:
        assert _load(path)["permissions"] == {}, path.name
    for workflow, name, job in _jobs():
        permissions = job["permissions"]
        uses_setup = any(s.get("uses") == SETUP for s in _steps(job))
        assert (permissions.get("id-token") == "write") == uses_setup, f"{workflow}.{name}"
        assert permissions.get("contents") == "read"
        if permissions.get("pull-requests") == "write":
            assert (workflow, name) == ("preview", "preview")
        assert not {k for k, v in permissions.items() if v == "write"} - {"id-token", "pull-requests"}


def test_a_real_backend_login_with_oidc():
    steps = _load(ACTION)["runs"]["steps"]
    [aws] = [s for s in steps if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")]
    assert aws["with"]["role-to-assume"] == "${{ inputs.state-role }}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws["with"])  # no stored cloud key
    assert any(s.get("run", "").strip() == 'pulumi login "$BACKEND_URL"' for s in steps)
    for workflow in ("preview", "deploy"):
        for command in ("preview", "up"):
            for _, step in _pulumi_steps(_workflow(workflow), command):
                assert step["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"


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
                assert SETUP in uses, workflow.name
            else:
                setup = next(s for s in _steps(job) if str(s.get("uses", "")).startswith("actions/setup-python"))
                assert setup["with"]["cache"] == "pip"


def test_the_pulumi_cli_version_is_pinned():
    [install] = [s for s in _load(ACTION)["runs"]["steps"]
                 if str(s.get("uses", "")).startswith("pulumi/actions@") and "command" not in s.get("with", {})]
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(install["with"]["pulumi-version"]))


_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")


def test_secrets_never_appear_in_a_command_line():
    """`run:` scripts read secrets from environment variables; no expression is expanded into a script."""
    for where, step in _all_steps():
        script = step.get("run", "")
        assert not _EXPRESSION.search(script), f"{where}: an expression inside run: {script!r}"
    for path in [*WORKFLOWS, *ACTIONS]:
        for expression in _EXPRESSION.findall(path.read_text()):
            if "secrets" in expression:
                assert "echo" not in expression


def test_stack_keys_go_through_stdin():
    text = ACTION.read_text()
    assert re.search(r"printf '%s' \"\$ACCESS_KEY_ID\" \| pulumi config set --secret", text)
    assert "config set --secret --stack \"$STACK\" sigsci:accessKeyId \"$" not in text


def test_the_kubeconfig_is_not_exported_through_github_env():
    """Writing to $GITHUB_ENV lets later steps' environment be steered; the file path is passed explicitly."""
    for path in [*WORKFLOWS, *ACTIONS]:
        assert "GITHUB_ENV" not in path.read_text(), path.name
    for workflow in ("preview", "deploy"):
        for command in ("preview", "up"):
            for _, step in _pulumi_steps(_workflow(workflow), command):
                assert step["env"]["KUBECONFIG"] == "${{ runner.temp }}/kubeconfig"


def test_dependabot_keeps_the_pins_current():
    config = _load(DEPENDABOT)
    [update] = [u for u in config["updates"] if u["package-ecosystem"] == "github-actions"]
    assert set(update["directories"]) == {"/"} | {"/" + str(a.parent.relative_to(harness.ROOT)) for a in ACTIONS}


# -- the reference data the chart tests read ---------------------------------------------------------------------

def test_the_test_jobs_fetch_the_reference_data_and_hand_it_to_the_tests():
    for workflow in ("preview", "deploy"):
        steps = _steps(_workflow(workflow)["jobs"]["test"])
        [fetch] = [i for i, s in enumerate(steps) if s.get("uses") == REFERENCE_DATA]
        [tests] = [i for i, s in enumerate(steps) if "make test" in s.get("run", "")]
        assert fetch < tests, workflow
        assert steps[tests]["env"][reference.ENV] == steps[fetch]["with"]["directory"], workflow


def test_a_pinned_helm_fetches_the_charts_the_package_pins():
    steps = _load(GITHUB / "actions" / "reference-data" / "action.yml")["runs"]["steps"]
    [helm] = [i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("azure/setup-helm@")]
    [fetch] = [i for i, s in enumerate(steps) if "scripts/fetch_reference.py" in s.get("run", "")]
    assert helm < fetch
    # The action itself is pinned by SHA (test_actions_are_pinned_by_commit_sha_with_their_version); so is helm.
    assert re.fullmatch(r"v\d+\.\d+\.\d+", str(steps[helm]["with"]["version"]))
    assert steps[fetch]["run"].strip() == 'python scripts/fetch_reference.py "$DIRECTORY"'
    assert steps[fetch]["env"] == {"DIRECTORY": "${{ inputs.directory }}"}
    fetcher = reference.fetcher()
    charts = [r for r in fetcher.REFERENCES if isinstance(r, fetcher.ChartValues)]
    assert {(r.repository, r.chart, r.version) for r in charts} == \
        {(f.repository_url, f.chart, f.default_chart_version) for f in FLAVOURS.values()}
    assert all(re.fullmatch(r"[0-9a-f]{64}", r.sha256) for r in charts)
