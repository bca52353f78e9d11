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


def _schema_problems(value, prop, types, where: str) -> list[str]:
    """`value` against a schema property: enums take only their values, objects only their properties."""
    if isinstance(value, str) and value.startswith("${"):
        return []  # another resource's output: typed by the engine
    if prop.ref and prop.ref.startswith("#/types/"):
        definition = types[prop.ref.rsplit(":", 1)[-1]]
        if definition.enum:
            allowed = {v.value for v in definition.enum}
            return [] if value in allowed else [f"{where}: {value!r} is not one of {sorted(allowed)}"]
        problems = [f"{where}.{k}: not a property of {definition.name}" for k in value
                    if k not in definition.properties]
        problems += [f"{where}: required {k} missing" for k, p in definition.properties.items()
                     if not p.optional and k not in value]
        return problems + [p for k, v in value.items() if k in definition.properties
                           for p in _schema_problems(v, definition.properties[k], types, f"{where}.{k}")]
    if prop.items is not None and isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _schema_problems(v, prop.items, types, f"{where}[{i}]")]
    return []


def test_the_yaml_example_uses_the_package_schema():
    module = _provider_module()
    analyzed = Analyzer(module.PACKAGE).analyze(module.COMPONENTS)
    components, types = analyzed["component_definitions"], analyzed["type_definitions"]
    program = yaml.safe_load((EXAMPLES / "yaml" / "Pulumi.yaml").read_text())
    assert program["packages"] == {module.PACKAGE: "../../provider"}
    assert (EXAMPLES / "yaml" / program["packages"][module.PACKAGE] / "PulumiPlugin.yaml").exists()
    used = set()
    for name, resource in program["resources"].items():
        package, _, component = resource["type"].split(":")
        assert package == module.PACKAGE and component in components, resource["type"]
        inputs = components[component].inputs
        unknown = set(resource["properties"]) - set(inputs)
        assert unknown == set(), f"{name}: {unknown} are not inputs of {component}"
        missing = {k for k, p in inputs.items() if not p.optional} - set(resource["properties"])
        assert missing == set(), f"{name}: required {missing} missing"
        problems = [p for k, v in resource["properties"].items()
                    for p in _schema_problems(v, inputs[k], types, f"{name}.{k}")]
        assert problems == []
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


def test_the_schema_check_of_the_example_can_fail():
    module = _provider_module()
    analyzed = Analyzer(module.PACKAGE).analyze(module.COMPONENTS)
    inputs, types = analyzed["component_definitions"]["SigsciRevProxyApp"].inputs, analyzed["type_definitions"]
    assert _schema_problems("sidecar", inputs["placement"], types, "placement")
    assert _schema_problems({"versoin": "1"}, inputs["agent"], types, "agent")
    assert _schema_problems({"startupProbe": {"enabled": True, "prot": 1}}, inputs["agent"], types, "agent")
