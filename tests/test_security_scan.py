"""A security scanner (checkov, offline) over every object the stacks own: zero failed checks."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

import harness
from harness import clean, unwrap_secrets

# Each skip with the reason it does not apply to this product.
SKIPPED_CHECKS = {
    "CKV_K8S_14": "the app image tag is the user's choice and dev follows the vendor's latest on purpose; "
                  "test_environments_differ_like_real_ones pins the agent in staging and prod",
    "CKV_K8S_15": "the vendor guide pairs a pinned version with IfNotPresent; Always is used with latest",
    "CKV_K8S_21": "the namespace is the user's choice; the vendor example runs in default",
    "CKV_K8S_35": "the agent reads its keys only from SIGSCI_ACCESSKEYID/SIGSCI_SECRETACCESSKEY env vars",
    "CKV_K8S_43": "images are pinned by version tag as the vendor publishes them; a digest is opt-in (agent.digest)",
}


# The agent beside the controller serves the module over a socket: no port to probe. The controller's own
# probes gate its traffic, and agent.startupProbe holds the controller back until the agent has its rules.
CHART_POD_SKIPS = {
    "CKV_K8S_8": "an agent in RPC mode has no documented health endpoint",
    "CKV_K8S_9": "an agent in RPC mode has no documented health endpoint",
    "CKV_K8S_40": "a sidecar agent runs as nginx's own user (101 in both charts, which the controller runs as "
                  "too), so that nginx can connect to the socket the agent creates",
    "CKV2_K8S_6": "the controller pod is the cluster's entry point and admits traffic from anywhere; "
                  "ingress-nginx's controller.networkPolicy can be turned on through extraValues",
}


def _checkov(directory: Path, extra_skips: dict | None = None) -> dict:
    skips = {**SKIPPED_CHECKS, **(extra_skips or {})}
    command = [str(Path(sys.executable).with_name("checkov")), "-d", str(directory), "--framework", "kubernetes",
               "--skip-download", "--quiet", "--compact", "-o", "json",
               "--skip-check", ",".join(sorted(skips))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.stdout.strip(), done.stderr[-2000:]
    report = json.loads(done.stdout)
    return report[0] if isinstance(report, list) else report


def _write_owned_objects(directory: Path, runs) -> int:
    count = 0
    for run_name, run in runs.items():
        for resource in run.resources:
            if resource.is_object and not resource.type.endswith("Patch"):
                obj = unwrap_secrets(clean(resource.inputs))
                (directory / f"{run_name}-{resource.name}.yaml").write_text(yaml.safe_dump(obj))
                count += 1
    return count


def _write_chart_pods(directory: Path, runs) -> int:
    count = 0
    for run_name, run in runs.items():
        for release, pod in harness.chart_pods(run, with_controller=False):
            if not pod["spec"]["containers"]:
                continue  # agents as their own Service: they are scanned as the Deployment they are
            (directory / f"{run_name}-{release}-pod.yaml").write_text(yaml.safe_dump(pod))
            count += 1
    return count


def _all_runs(stack_runs) -> dict:
    from ingress_configs import INGRESS_CONFIGS

    return {**stack_runs, **{name: harness.run_config(cfg) for name, cfg in INGRESS_CONFIGS.items()}}


def test_owned_objects_pass_the_scan(tmp_path, stack_runs):
    assert _write_owned_objects(tmp_path, _all_runs(stack_runs)) >= 10
    report = _checkov(tmp_path)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 100


def test_the_agent_in_every_controller_pod_passes_the_scan(tmp_path, stack_runs):
    """The agent containers and volumes we hand to each chart, in every flavour and agent lifetime."""
    assert _write_chart_pods(tmp_path, _all_runs(stack_runs)) >= 5
    report = _checkov(tmp_path, CHART_POD_SKIPS)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 50


def test_the_scan_can_fail(tmp_path):
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad", "namespace": "x"},
           "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
               "metadata": {"labels": {"a": "b"}},
               "spec": {"containers": [{"name": "c", "image": "x:1", "securityContext": {"privileged": True}}]}}}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    failed = {c["check_id"] for c in _checkov(tmp_path)["results"]["failed_checks"]}
    assert "CKV_K8S_16" in failed  # privileged container
