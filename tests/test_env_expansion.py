"""Agent option values reach the agent literally: Kubernetes' `$(VAR)` expansion cannot pull the keys (or any
other variable) into them. The oracle is a port of Kubernetes' own expansion (third_party/forked/golang/
expansion), applied the way the kubelet applies it: each variable sees only those declared before it."""

from hypothesis import given, settings, strategies as st

import harness
from harness import PLANTED_SECRET, clean, unwrap_secrets


def k8s_expand(text: str, defined: dict[str, str]) -> str:
    out, cursor, checkpoint = [], 0, 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            rest = text[cursor + 1:]
            if rest[0] == "$":
                read, is_var, advance = "$", False, 1
            elif rest[0] == "(":
                close = rest.find(")", 1)
                if close != -1:
                    read, is_var, advance = rest[1:close], True, close + 1
                else:
                    read, is_var, advance = "$(", False, 1
            else:
                read, is_var, advance = "$" + rest[0], False, 1
            out.append(defined.get(read, f"$({read})") if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def test_the_oracle_expands_like_kubernetes():
    defined = {"A": "x"}
    assert k8s_expand("$(A)", defined) == "x"
    assert k8s_expand("$$(A)", defined) == "$(A)"
    assert k8s_expand("$(B)", defined) == "$(B)"
    assert k8s_expand("a$", defined) == "a$" and k8s_expand("$$", defined) == "$"
    assert k8s_expand("$(A", defined) == "$(A"


def _agent_env(run, resource_name: str) -> list[dict]:
    pod = unwrap_secrets(clean(run.named(resource_name).inputs))["spec"]["template"]["spec"]
    agent = next(c for c in pod["containers"] if c["name"] == "sigsci-agent")
    return agent["env"]


def _as_the_agent_sees_it(env: list[dict]) -> dict[str, str]:
    defined: dict[str, str] = {}
    for entry in env:
        if "valueFrom" in entry:  # the keys, as the kubelet resolves them from the Secret
            defined[entry["name"]] = harness.PLANTED_KEY_ID if entry["name"].endswith("KEYID") else PLANTED_SECRET
        else:
            defined[entry["name"]] = k8s_expand(entry["value"], defined)
    return defined


@settings(max_examples=80, deadline=None, derandomize=True)
@given(value=st.one_of(
    st.sampled_from(["$(SIGSCI_SECRETACCESSKEY)", "$(SIGSCI_ACCESSKEYID)", "$$(SIGSCI_SECRETACCESSKEY)",
                     "x$(SIGSCI_MAX_PROCS)y", "$", "$$", "$(", "a$b", "$(UNDEFINED)"]),
    st.text(alphabet="$()ABCSIGSCI_ESRTKY", min_size=1, max_size=30)))
def test_option_values_reach_the_agent_exactly_as_written(value):
    app = {"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080,
           "agent": {"options": {"server-hostname": value}}}
    run = harness.run_config({"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": [app]})
    seen = _as_the_agent_sees_it(_agent_env(run, "web.default-deployment"))
    assert seen["SIGSCI_SERVER_HOSTNAME"] == value
    assert PLANTED_SECRET not in seen["SIGSCI_SERVER_HOSTNAME"] or PLANTED_SECRET in value


def test_the_controller_agent_is_escaped_too():
    ingress = {"agent": {"options": {"server-hostname": "$(SIGSCI_SECRETACCESSKEY)"}}, "agentLifetime": "service"}
    run = harness.run_config({"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:ingress": ingress})
    seen = _as_the_agent_sees_it(_agent_env(run, "ingress-agent-deployment"))
    assert seen["SIGSCI_SERVER_HOSTNAME"] == "$(SIGSCI_SECRETACCESSKEY)"
