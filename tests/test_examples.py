"""The examples stay working: the Python one runs under mocks, the YAML one uses only what the
package schema offers."""

import runpy
import subprocess

import yaml

import harness
from harness import PLANTED_KEY_ID, PLANTED_SECRET, clean
from invariants import plain_credentials
from schema_check import validate_run
from test_provider_schema import _provider_module
from test_workflows import _tool
from pulumi.provider.experimental.analyzer import Analyzer

EXAMPLES = harness.ROOT / "examples"


def test_the_python_example_builds_a_valid_stack():
    config = {"sigsci:site": "demo", "sigsci:agentKeyId": PLANTED_KEY_ID, "sigsci:agentSecret": PLANTED_SECRET}
    run = harness.run(lambda: runpy.run_path(str(EXAMPLES / "python" / "__main__.py")), config,
                      secret_keys=["sigsci:agentKeyId", "sigsci:agentSecret"])
    kinds = {r.type.rsplit(":", 1)[-1] for r in run.resources}
    assert {"Secret", "Deployment", "Service", "Release", "Ingress"} <= kinds
    ingress = clean(next(r for r in run.resources if r.type.endswith(":Ingress")).inputs)
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "web"
    for r in run.resources:
        assert plain_credentials(clean(r.inputs)) == [], r.name
    validate_run(run)


def test_the_yaml_example_uses_the_package_schema():
    module = _provider_module()
    components = Analyzer(module.PACKAGE).analyze(module.COMPONENTS)["component_definitions"]
    program = yaml.safe_load((EXAMPLES / "yaml" / "Pulumi.yaml").read_text())
    assert program["packages"] == {module.PACKAGE: "../../provider"}
    assert (EXAMPLES / "yaml" / program["packages"][module.PACKAGE] / "PulumiPlugin.yaml").exists()
    used = set()
    for name, resource in program["resources"].items():
        package, _, component = resource["type"].split(":")
        assert package == module.PACKAGE and component in components, resource["type"]
        unknown = set(resource["properties"]) - set(components[component].inputs)
        assert unknown == set(), f"{name}: {unknown} are not inputs of {component}"
        used.add(component)
    assert used == set(components)
    for expression in program["outputs"].values():
        resource, _, output = expression.strip("${}").partition(".")
        assert output in components[program["resources"][resource]["type"].split(":")[-1]].outputs


def test_the_examples_pass_yamllint():
    files = [str(p) for p in EXAMPLES.rglob("*.yaml")]
    result = subprocess.run([_tool("yamllint"), "-s", "-c", str(harness.ROOT / ".yamllint.yaml"), *files],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
