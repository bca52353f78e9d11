"""Every stack file in stacks/ evaluates cleanly, and together they exercise every placement."""

import pytest
import yaml

import harness
from harness import clean


def test_the_three_environments_exist():
    assert {"dev", "staging", "prod"} <= set(harness.stack_names())


@pytest.mark.parametrize("stack", harness.stack_names())
def test_stack_evaluates(stack, stack_runs):
    run = stack_runs[stack]
    kinds = {r.type for r in run.resources}
    assert "sigsci:index:SigsciRevProxyApp" in kinds
    assert run.outputs["apps"], "the stack exports its apps"
    assert run.outputs["secretName"].startswith("sigsci.")


def test_dev_first_app_is_the_vendor_example(stack_runs):
    config = yaml.safe_load((harness.ROOT / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    first = config["sigsci:apps"][0]
    assert first["image"].startswith("signalsciences/example-helloworld")
    assert first["port"] == 8000 and first["listenerPort"] == 8001
    assert first.get("placement", "owned") == "owned"
    service = clean(stack_runs["dev"].named("helloworld.default-service").inputs)
    assert service["spec"]["ports"][0]["port"] == 8000 and service["spec"]["ports"][0]["targetPort"] == 8001


def test_stacks_exercise_every_placement(stack_runs):
    placements = {app["placement"] for run in stack_runs.values() for app in run.outputs["apps"].values()}
    assert placements == {"owned", "patch", "service", "module"}
    assert any(r.type == "sigsci:index:SigsciInjection" for run in stack_runs.values() for r in run.resources)


def test_environments_differ_like_real_ones(stack_runs):
    def agent_images(run):
        return {c["image"] for r in run.resources if r.type.endswith("Deployment") or r.type.endswith("Patch")
                for c in clean(r.inputs).get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
                if c["name"] == "sigsci-agent"}

    assert agent_images(stack_runs["dev"]) == {"signalsciences/sigsci-agent:latest"}
    for stack in ("staging", "prod"):
        assert all(image.endswith(":4.70.0") for image in agent_images(stack_runs[stack])), stack
    replicas = {stack: max(clean(r.inputs)["spec"]["replicas"] for r in run.of_type("kubernetes:apps/v1:Deployment")
                           if not r.read)
                for stack, run in stack_runs.items()}
    assert replicas["dev"] < replicas["staging"] < replicas["prod"]
    assert stack_runs["prod"].of_type("kubernetes:core/v1:Secret") == [], "prod reads an existing Secret"


def test_every_agent_of_every_stack_waits_for_its_rules(stack_runs):
    """No stack sets startupProbe: its default (on) holds each agent, in every shape, until its rules are loaded;
    a native sidecar (an init container that keeps running) then holds the app's or nginx's start."""
    import invariants

    for stack, run in stack_runs.items():
        config = harness.stack_config(stack)
        assert "startupProbe" not in yaml.safe_dump(config), f"{stack} sets startupProbe: the default is the point"
        seen = 0
        for where, _, _, _, spec in invariants.pods(run, config, harness.chart_pods(run, with_controller=True)):
            for kind in ("initContainers", "containers"):
                for agent in [c for c in spec.get(kind, []) if c["name"] == "sigsci-agent"]:
                    seen += 1
                    assert agent["startupProbe"]["httpGet"] == {"path": "/startup", "port": 2024}, (stack, where)
                    assert harness.env_of(agent)["SIGSCI_STARTUP_PROBE_LISTENER"] == "0.0.0.0:2024", (stack, where)
                    if kind == "initContainers":
                        assert agent["restartPolicy"] == "Always", (stack, where)
        assert seen, f"{stack} runs no agent"
