"""`make up|preview|destroy` say what is missing before Pulumi runs: one line each, `missing <what>: <do this>`."""

import importlib.util
import subprocess
import sys

import pytest

import harness

_spec = importlib.util.spec_from_file_location("preflight", harness.ROOT / "scripts" / "preflight.py")
preflight = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(preflight)

KEYS = "  sigsci:accessKeyId:\n    secure: v1:abc\n  sigsci:secretAccessKey:\n    secure: v1:def\n"


def _kubeconfig(tmp_path, context="kind-dev", defined=("kind-dev",)):
    path = tmp_path / "kubeconfig"
    contexts = "".join(f"  - name: {name}\n    context: {{cluster: c, user: u}}\n" for name in defined)
    path.write_text(f"apiVersion: v1\nkind: Config\ncurrent-context: {context}\ncontexts:\n{contexts}")
    return str(path)


def _root(tmp_path, config="  sigsci:site: demo\n" + KEYS, stack="dev"):
    (tmp_path / "stacks").mkdir(exist_ok=True)
    (tmp_path / "stacks" / f"Pulumi.{stack}.yaml").write_text("config:\n" + config)
    return tmp_path


def _has_pulumi(name, path=None):
    return "/usr/bin/pulumi" if name == "pulumi" else None


def _ready_env(tmp_path):
    return {"KUBECONFIG": _kubeconfig(tmp_path), "PULUMI_CONFIG_PASSPHRASE": "x", "PATH": "/usr/bin"}


def test_everything_present(tmp_path):
    assert preflight.problems("dev", _ready_env(tmp_path), which=_has_pulumi, root=_root(tmp_path)) == []


def _assert_one_line_each(found):
    for problem in found:
        assert "\n" not in problem
        assert problem.startswith("missing ") and ": " in problem, problem


def test_each_missing_piece_is_named(tmp_path):
    env = {"KUBECONFIG": str(tmp_path / "missing"), "PATH": "/nowhere", "HOME": str(tmp_path)}
    found = preflight.problems("qa", env, which=lambda name, path=None: None, root=_root(tmp_path))
    _assert_one_line_each(found)
    assert len(found) == 4
    [cli, context, passphrase, stack] = found
    assert cli.startswith("missing Pulumi CLI: install it (https://www.pulumi.com/docs/install/)")
    assert context.startswith("missing kube context: ") and "kubectl config use-context" in context
    assert passphrase.startswith("missing PULUMI_CONFIG_PASSPHRASE: run `export PULUMI_CONFIG_PASSPHRASE=")
    assert stack.startswith("missing stacks/Pulumi.qa.yaml: ") and "dev" in stack


def test_a_current_context_the_kubeconfig_does_not_define(tmp_path):
    env = {**_ready_env(tmp_path), "KUBECONFIG": _kubeconfig(tmp_path, "gone", defined=("kind-dev",))}
    [found] = preflight.problems("dev", env, which=_has_pulumi, root=_root(tmp_path))
    _assert_one_line_each([found])
    assert found.startswith("missing kube context 'gone'")


def test_the_current_context_may_be_defined_in_another_kubeconfig(tmp_path):
    first = tmp_path / "a"
    first.mkdir()
    second = tmp_path / "b"
    second.mkdir()
    env = {**_ready_env(tmp_path),
           "KUBECONFIG": _kubeconfig(first, "kind-dev", defined=()) + ":" + _kubeconfig(second, "other", ("kind-dev",))}
    assert preflight.problems("dev", env, which=_has_pulumi, root=_root(tmp_path)) == []


@pytest.mark.parametrize("config,expected", [
    ("  sigsci:site: demo\n", "missing agent keys for stack dev (sigsci:accessKeyId, sigsci:secretAccessKey): "
                              "run `make keys STACK=dev`"),
    ("  sigsci:accessKeyId:\n    secure: v1:abc\n", "missing agent keys for stack dev (sigsci:secretAccessKey)"),
    ("  sigsci:accessKeyId: plain\n  sigsci:secretAccessKey:\n    secure: v1:x\n",
     "missing encryption of sigsci:accessKeyId"),
], ids=["none", "one", "plain-text"])
def test_agent_keys(tmp_path, config, expected):
    [found] = preflight.problems("dev", _ready_env(tmp_path), which=_has_pulumi, root=_root(tmp_path, config))
    _assert_one_line_each([found])
    assert found.startswith(expected)


def test_an_existing_secret_needs_no_keys(tmp_path):
    root = _root(tmp_path, "  sigsci:existingSecret: sigsci.prod\n")
    assert preflight.problems("dev", _ready_env(tmp_path), which=_has_pulumi, root=root) == []


def test_make_keys_skips_the_keys_check(tmp_path):
    root = _root(tmp_path, "  sigsci:site: demo\n")
    assert preflight.problems("dev", _ready_env(tmp_path), which=_has_pulumi, root=root, check_keys=False) == []


def test_passphrase_not_needed_for_a_cloud_backend(tmp_path):
    env = {"KUBECONFIG": _kubeconfig(tmp_path), "PULUMI_BACKEND_URL": "https://api.example", "PATH": "/usr/bin"}
    assert preflight.problems("dev", env, which=_has_pulumi, root=_root(tmp_path)) == []


def test_script_exits_non_zero_with_the_list(tmp_path):
    env = {"PATH": "/nonexistent", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, str(harness.ROOT / "scripts" / "preflight.py"), "--stack", "dev"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "Cannot run Pulumi for stack 'dev' yet" in done.stderr
    assert "  - missing Pulumi CLI: " in done.stderr
    assert "  - missing kube context: " in done.stderr
    assert "  - missing PULUMI_CONFIG_PASSPHRASE: " in done.stderr


def test_script_help():
    done = subprocess.run([sys.executable, str(harness.ROOT / "scripts" / "preflight.py"), "--help"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "--skip-keys" in done.stdout
