"""`make up|preview|destroy` say clearly what is missing before Pulumi runs."""

import importlib.util
import subprocess
import sys

import harness

_spec = importlib.util.spec_from_file_location("preflight", harness.ROOT / "scripts" / "preflight.py")
preflight = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(preflight)


def _kubeconfig(tmp_path, context="kind-dev"):
    path = tmp_path / "kubeconfig"
    path.write_text(f"apiVersion: v1\nkind: Config\ncurrent-context: {context}\n")
    return str(path)


def _has_pulumi(name, path=None):
    return "/usr/bin/pulumi" if name == "pulumi" else None


def test_everything_present(tmp_path):
    env = {"KUBECONFIG": _kubeconfig(tmp_path), "PULUMI_CONFIG_PASSPHRASE": "x", "PATH": "/usr/bin"}
    assert preflight.problems("dev", env, which=_has_pulumi) == []


def test_each_missing_piece_is_named(tmp_path):
    env = {"KUBECONFIG": str(tmp_path / "missing"), "PATH": "/nowhere", "HOME": str(tmp_path)}
    found = preflight.problems("qa", env, which=lambda name, path=None: None)
    text = "\n".join(found)
    assert len(found) == 4
    assert "Pulumi CLI is not on PATH" in text
    assert "no current kube context" in text
    assert "PULUMI_CONFIG_PASSPHRASE is not set" in text
    assert "no stacks/Pulumi.qa.yaml" in text and "dev" in text


def test_passphrase_not_needed_for_a_cloud_backend(tmp_path):
    env = {"KUBECONFIG": _kubeconfig(tmp_path), "PULUMI_BACKEND_URL": "https://api.example", "PATH": "/usr/bin"}
    assert preflight.problems("dev", env, which=_has_pulumi) == []


def test_script_exits_non_zero_with_the_list(tmp_path):
    env = {"PATH": "/nonexistent", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, str(harness.ROOT / "scripts" / "preflight.py"), "--stack", "dev"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "Cannot run Pulumi for stack 'dev' yet" in done.stderr
    assert "Pulumi CLI" in done.stderr
