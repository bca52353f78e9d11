"""The invariant checks themselves: silent on the real stacks, and each one speaks up on a planted break."""

import copy

import pytest

import harness
import invariants
from harness import PLANTED_SECRET, Run


@pytest.mark.parametrize("stack", harness.stack_names())
def test_the_stacks_keep_every_invariant(stack, stack_runs):
    assert invariants.violations(stack_runs[stack], harness.stack_config(stack)) == []


def _broken(run: Run, name: str, edit) -> Run:
    """A copy of `run` with the inputs of resource `name` changed by `edit`."""
    resources = copy.deepcopy(run.resources)
    edit(next(r for r in resources if r.name == name).inputs)
    return Run(resources=resources, outputs=run.outputs, warnings=run.warnings, options=run.options)


def _pod(inputs):
    return inputs["spec"]["template"]["spec"]


def _agent(inputs):
    return next(c for c in _pod(inputs)["containers"] if c["name"] == "sigsci-agent")


def _env(container, name, value):
    next(e for e in container["env"] if e["name"] == name)["value"] = value


def _controller_values(inputs):
    return inputs["values"]["controller"]


BREAKS = [
    # (stack, resource, edit, a fragment of the violation)
    ("dev", "helloworld.default-deployment",
     lambda i: _agent(i)["volumeMounts"].append({"name": "gone", "mountPath": "/gone"}), "not a volume of its pod"),
    ("dev", "helloworld.default-deployment",
     lambda i: _agent(i)["env"][0]["valueFrom"]["secretKeyRef"].update(name="other"), "does not create"),
    ("dev", "helloworld.default-deployment",
     lambda i: _agent(i)["env"][1]["valueFrom"]["secretKeyRef"].update(key="password"), "missing from Secret"),
    ("dev", "helloworld.default-service",
     lambda i: i["spec"]["ports"][0].update(targetPort=8080), "the agent listens on"),
    ("dev", "helloworld.default-deployment",
     lambda i: _agent(i)["ports"][0].update(containerPort=9001), "not one of its containerPorts"),
    ("dev", "helloworld.default-deployment",
     lambda i: _env(_agent(i), "SIGSCI_REVPROXY_LISTENER", "http:{listener=http://0.0.0.0:8001,upstreams="
                                                          "http://127.0.0.1:9090}"), "the app's port is"),
    ("dev", "helloworld.default-deployment",
     lambda i: _agent(i)["ports"].append({"containerPort": _pod(i)["containers"][0]["ports"][0]["containerPort"]}),
     "both use port"),
    ("dev", "helloworld.default-deployment",
     lambda i: i["metadata"]["labels"].update({"bad label": "x"}), "is not valid"),
    ("dev", "helloworld.default-deployment",
     lambda i: i["metadata"].update(name="Hello_World"), "name is not"),
    ("dev", "helloworld.default-deployment",
     lambda i: i["metadata"].update(annotations={"note": PLANTED_SECRET}), "plain text"),
    ("dev", "ingress-release",
     lambda i: _controller_values(i)["config"].update({"http-snippet": "sigsci_agent_host unix:/elsewhere.sock;"}),
     "the module dials /elsewhere.sock"),
    ("dev", "ingress-release",
     lambda i: _controller_values(i)["extraVolumeMounts"][0].update(mountPath="/other"), "do not share"),
    ("dev", "ingress-route-default.helloworld",
     lambda i: i["spec"]["rules"][0]["http"]["paths"][0].update(path="/a//b"), "contains '//'"),
    ("prod", "ingress-agent-service",
     lambda i: i["spec"]["ports"][0].update(targetPort=9998), "the agent's rpc-address"),
    ("prod", "ingress-release",
     lambda i: _controller_values(i)["config"]["entries"].update(
         {"http-snippets": "sigsci_agent_host elsewhere.sigsci-ingress.svc:9999;"}), "no Service of the stack"),
    ("prod", "checkout.shop-service-patch",
     lambda i: i["spec"]["ports"][0].update(targetPort=8080), "the agent listens on"),
    ("prod", "payments.payments-deployment",
     lambda i: _env(_agent(i), "SIGSCI_REVPROXY_LISTENER", "http:{listener=http://0.0.0.0:8001,upstreams="
                                                          "http://payments-api.payments.svc:9001}"),
     "the app's port is 9000"),
    ("prod", "payments.payments-service",
     lambda i: i["metadata"].update(name="storefront", namespace="shop"), "Service shop/storefront is declared twice"),
    ("prod", "ingress-agent-service",
     lambda i: i["spec"].update(selector={"app.kubernetes.io/instance": i["spec"]["selector"]["app.kubernetes.io/instance"]}),
     "also selects the pods of ['release"),
]


@pytest.mark.parametrize("stack,name,edit,fragment", BREAKS, ids=[f"{b[0]}-{b[3]}" for b in BREAKS])
def test_each_check_reports_a_planted_break(stack, name, edit, fragment, stack_runs):
    problems = invariants.violations(_broken(stack_runs[stack], name, edit), harness.stack_config(stack))
    assert any(fragment in p for p in problems), problems


@pytest.mark.parametrize("value,ok", [("web", True), ("a" * 63, True), ("a" * 64, False), ("Web", False),
                                      ("1web", False), ("web-", False)])
def test_dns_1035(value, ok):
    assert invariants.is_dns_1035(value) is ok


@pytest.mark.parametrize("key,ok", [("app.kubernetes.io/name", True), ("owner", True), ("a/b/c", False),
                                    ("Example.com/x", False), ("x" * 64, False), ("-x", False)])
def test_qualified_names(key, ok):
    assert invariants.is_qualified_name(key) is ok


@pytest.mark.parametrize("path,kind,ok", [("/", "Prefix", True), ("/a/b", "Exact", True), ("/a//b", "Prefix", False),
                                          ("/a/..", "Prefix", False), ("/a/./b", "Exact", False),
                                          ("/a/./b", "ImplementationSpecific", True), ("a", "Prefix", False)])
def test_ingress_paths(path, kind, ok):
    assert (invariants.ingress_path_problem(path, kind) is None) is ok


def test_a_resource_registered_twice_is_reported(stack_runs):
    run = stack_runs["dev"]
    twice = Run(resources=[*copy.deepcopy(run.resources), copy.deepcopy(run.resources[-1])], outputs=run.outputs,
                warnings=run.warnings, options=run.options)
    assert any("registered twice" in p for p in invariants.violations(twice, harness.stack_config("dev")))
