"""Kubernetes' name rules are written twice on purpose: in the package (config/kube.py), which refuses bad
config, and in the invariants (tests/invariants.py), the tests' own reading of the same rules, so that an
oracle does not reuse the code it checks. This proves the two readings agree on every kind of name."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

import invariants
from sigsci_waf.config import kube

# Names near every rule's edges: case, '-', '.', '_', '/', '*', lengths around 15, 63 and 253.
_PART = st.text(alphabet="abcxyzAZ0129-._", min_size=0, max_size=20)
NAMES = st.one_of(
    _PART,
    st.lists(_PART, min_size=1, max_size=4).map(".".join),
    st.tuples(st.lists(_PART, max_size=3).map(".".join), _PART).map("/".join),
    st.tuples(st.sampled_from(["", "*.", "*"]), st.lists(_PART, min_size=1, max_size=4).map(".".join)).map("".join),
    st.integers(1, 300).map(lambda n: ("a" * n)),
    st.integers(1, 70).map(lambda n: ".".join(["a" * 62] * 4)[:250] + "b" * (n % 8)),
)


def _accepts(annotated, value: str) -> bool:
    try:
        TypeAdapter(annotated).validate_python(value)
    except ValidationError:
        return False
    return True


PAIRS = {
    "dns label": (kube.is_dns_label, invariants.is_dns_label),
    "dns-1035 label": (kube.is_dns_1035, invariants.is_dns_1035),
    "dns subdomain": (kube.is_dns_subdomain, invariants.is_dns_subdomain),
    "label value": (kube.is_label_value, invariants.is_label_value),
    "qualified name": (kube.is_qualified_name, invariants.is_qualified_name),
    "port name": (lambda v: _accepts(kube.TargetPort, v) and not v.isdigit(), invariants.is_port_name),
    "host": (lambda v: _accepts(kube.Host, v), invariants.is_host),
}


@pytest.mark.parametrize("rule", sorted(PAIRS))
@settings(max_examples=400, deadline=None, derandomize=True)
@given(name=NAMES)
def test_the_package_and_the_invariants_read_each_name_rule_alike(rule, name):
    package, oracle = PAIRS[rule]
    assert package(name) == oracle(name), f"{rule}: {name!r}"
