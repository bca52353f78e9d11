"""docs/components.md, walked through as a new user would: each Python example runs as written, as a program
of its own, declares what the page says, and prints no warning the page does not explain."""

from __future__ import annotations

import re

import harness

DOC = harness.ROOT / "docs" / "components.md"
# What the examples read from the program's config (`config.require_secret(...)`), set with --secret.
CONFIG = {"sigsci:agentKeyId": harness.PLANTED_KEY_ID, "sigsci:agentSecret": harness.PLANTED_SECRET}


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def _walk(block: str) -> harness.Run:
    """One example as the whole program (`__main__.py`), as a reader pastes it."""
    def program():
        exec(compile(block, str(DOC), "exec"), {"__name__": "__main__"})  # noqa: S102 - the page's own example
    run = harness.run(program, CONFIG, list(CONFIG))
    names = [r.name for r in run.resources if not r.read]
    assert len(names) == len(set(names)), "a resource name declared twice: the engine refuses the program"
    return run


def test_the_page_has_the_examples_this_test_walks():
    assert len(_examples()) == 3


def test_the_first_example_declares_the_keys_and_an_app_without_a_warning():
    run = _walk(_examples()[0])
    assert run.warnings == []
    kinds = sorted(r.type.rsplit(":", 1)[-1] for r in run.resources if r.is_object)
    assert kinds == ["Deployment", "NetworkPolicy", "PodDisruptionBudget", "Secret", "Service"]
    secret = harness.clean(run.of_type("kubernetes:core/v1:Secret")[0].inputs)
    assert secret["metadata"]["namespace"] == "web" and secret["metadata"]["name"] == "sigsci.my-site"


def test_the_controller_example_runs_as_written_and_its_one_warning_is_explained():
    run = _walk(_examples()[1])
    assert len(run.of_type(harness.RELEASE_TYPE)) == 1
    ingress = harness.clean(run.of_type("kubernetes:networking.k8s.io/v1:Ingress")[0].inputs)
    assert ingress["spec"]["rules"][0]["host"] == "web.example.com"
    assert run.outputs["lb"] == harness.LOAD_BALANCER_IP
    page = " ".join(DOC.read_text().split())
    assert run.warnings, "the page explains a warning the example no longer prints"
    for warning in run.warnings:
        # The page quotes each warning's own sentence (after the component's name), and explains it.
        assert warning.split(": ", 1)[1] in page, warning


def test_the_injection_example_declares_the_keys_and_the_admission_objects_without_a_warning():
    run = _walk(_examples()[2])
    assert run.warnings == []
    kinds = sorted(r.type.rsplit(":", 1)[-1] for r in run.resources if r.is_object)
    assert kinds == ["ConfigMap", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "Secret",
                     "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
