"""What a stack's NetworkPolicies say, as Kubernetes reads them: which pods each selects, whether it limits their
ingress or their egress, and which peers and ports its rules admit.

NetworkPolicies add up: a pod selected by several admits the union of their rules, and once one of them limits a
direction (`policyTypes`; without it, Ingress always, Egress when the policy has egress rules), only what some
rule admits passes. A NetworkPolicyPatch is read over the object of that name the stack declares, in place of it,
and reported as the patch: the spec's fields it sets replace the object's (podSelector, ingress, egress and
policyTypes are atomic in server-side apply).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .common import UNKNOWN, _get, _list, _maps, _same_namespace
from .stack import _all, _any, _label_selector, _Resource

# The label the API server puts on every namespace, with its name.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(eq=False)
class _NetworkPolicy:
    resource: _Resource  # the NetworkPolicy, or the patch that changes it
    spec: Mapping[str, Any]
    selector_known: bool  # False: a patch of an object the stack does not declare, leaving its podSelector as is

    @property
    def namespace(self) -> str | None:
        return self.resource.namespace

    @property
    def who(self) -> str:
        return self.resource.who

    def selects(self, labels: Mapping[str, Any], complete: bool = True) -> bool | None:
        """Whether it selects pods carrying `labels` (all their labels when `complete`); the namespace is the
        caller's to match."""
        selector = self.spec.get("podSelector")
        if selector is None and not self.selector_known:
            return None
        return _label_selector(selector, labels, complete)

    def limits(self, direction: str) -> bool:
        """Whether it limits the selected pods' `Ingress` or `Egress`."""
        types = self.spec.get("policyTypes")
        if isinstance(types, list):
            return direction in types
        return direction == "Ingress" or bool(_list(self.spec.get("egress")))

    def rules(self, direction: str) -> list[Mapping[str, Any]]:
        """Its ingress or egress rules, where it limits that direction (a rule not in force admits nothing)."""
        return _maps(self.spec.get(direction.lower())) if self.limits(direction) else []


def _network_policies(resources: list[_Resource]) -> list[_NetworkPolicy]:
    """Every NetworkPolicy of the stack as it will be in the cluster (see the module's docstring)."""
    declared = [r for r in resources if r.kind == "NetworkPolicy" and not r.patch]
    patches = [r for r in resources if r.kind == "NetworkPolicy" and r.patch]
    found = []
    for resource in declared:
        if any(p.object_name == resource.object_name and _same_namespace(p.namespace, resource.namespace)
               for p in patches):
            continue  # read through its patch
        found.append(_NetworkPolicy(resource, _spec(resource), True))
    for patch in patches:
        original = next((r for r in declared if r.object_name == patch.object_name
                         and _same_namespace(r.namespace, patch.namespace)), None)
        spec = {**(_spec(original) if original is not None else {}), **_spec(patch)}
        found.append(_NetworkPolicy(patch, spec, original is not None))
    return found


def _spec(resource: _Resource) -> Mapping[str, Any]:
    spec = _get(resource.props, "spec")
    return spec if isinstance(spec, Mapping) else {}


# -- peers -----------------------------------------------------------------------------------------------------

def _every_address(block: Any) -> bool:
    """An ipBlock of every address (`0.0.0.0/0`, `::/0`); its exceptions carve out some sources, not a way in."""
    try:
        return ipaddress.ip_network(str(_get(block, "cidr")), strict=False).prefixlen == 0
    except ValueError:
        return False


def _from_anywhere(peers: Any) -> bool:
    """A rule's `from` admits every source: no peers, a peer whose selectors pick a namespace anyone may create and a
    pod of no labels there (`namespaceSelector: {}`, `kubernetes.io/metadata.name` `Exists`, `DoesNotExist` or
    `NotIn`; its podSelector absent or as open), or ipBlocks that together cover every IPv4 or IPv6 address."""
    if peers is UNKNOWN:
        return False
    if not _list(peers):
        return True
    blocks = []
    for peer in _maps(peers):
        if "namespaceSelector" in peer and _any_namespace(peer.get("namespaceSelector")) \
                and _label_selector(peer.get("podSelector"), {}) is True:
            return True
        try:
            blocks.append(ipaddress.ip_network(str(_get(peer, "ipBlock", "cidr")), strict=False))
        except ValueError:
            continue
    for family in (4, 6):
        ranges = [b for b in blocks if b.version == family]
        if ranges and any(n.prefixlen == 0 for n in ipaddress.collapse_addresses(ranges)):
            return True
    return False


# A namespace no selector names: one anyone allowed to create namespaces may add, labelled with its name only.
_ANY_NAMESPACE = {NAMESPACE_NAME_LABEL: "\x00any"}


def _any_namespace(selector: Any) -> bool:
    """A namespaceSelector that picks every namespace, or one anyone may create (see _ANY_NAMESPACE)."""
    return _label_selector(selector, _ANY_NAMESPACE) is True


def _namespace_labels(resources: Iterable[_Resource], namespace: str) -> dict[str, Any]:
    """The labels a namespace is known to carry: its name (the API server's label) and those the stack gives it."""
    labels: dict[str, Any] = {}
    for resource in resources:
        given = _get(resource.props, "metadata", "labels")
        if resource.kind == "Namespace" and resource.object_name == namespace and isinstance(given, Mapping):
            labels.update(given)
    labels[NAMESPACE_NAME_LABEL] = namespace
    return labels


def _peer_reaches(peer: Mapping[str, Any], policy_namespace: str | None, namespace: str | None,
                  namespace_labels: Mapping[str, Any], pods: list[Mapping[str, Any]], complete: bool = True
                  ) -> bool | None:
    """Whether one peer of a rule takes in the pods with labels `pods` (all their labels when `complete`) in
    `namespace`. An ipBlock other than every address: not known (pods' addresses are not known before they run)."""
    if "ipBlock" in peer:
        return True if _every_address(peer.get("ipBlock")) else None
    if "namespaceSelector" in peer:
        in_namespace = _label_selector(peer.get("namespaceSelector"), namespace_labels, complete=False)
    elif policy_namespace is None or namespace is None:
        in_namespace = None
    else:
        in_namespace = policy_namespace == namespace
    if "podSelector" in peer:
        in_pods = _any(_label_selector(peer.get("podSelector"), labels, complete) for labels in pods)
    else:
        in_pods = True
    return _all([in_namespace, in_pods])


def _peers_reach(peers: Any, policy_namespace: str | None, namespace: str | None,
                 namespace_labels: Mapping[str, Any], pods: list[Mapping[str, Any]], complete: bool = True
                 ) -> bool | None:
    """Whether a rule's `to` (or `from`) takes in those pods: no peers take in everything."""
    if peers is UNKNOWN:
        return None
    if not _list(peers):
        return True
    return _any(_peer_reaches(p, policy_namespace, namespace, namespace_labels, pods, complete)
                if isinstance(p, Mapping) else None for p in _list(peers))


# -- ports -----------------------------------------------------------------------------------------------------

def _port_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _admits_port(entries: Any, numbers: set[int], names: set[str], all_names: bool = True) -> bool | None:
    """Whether a rule's `ports` admit TCP to one of a pod's ports `numbers`, whose names are `names` (all of them,
    unless not `all_names`: a name not among them is then not known). No ports admit every port; an entry without
    `port` every port of its protocol; `endPort` a range."""
    if entries is UNKNOWN:
        return None
    if not _list(entries):
        return True
    results: list[bool | None] = []
    for entry in _list(entries):
        if not isinstance(entry, Mapping):
            results.append(None)
            continue
        protocol, port = entry.get("protocol", "TCP"), entry.get("port")
        if protocol is UNKNOWN or port is UNKNOWN or entry.get("endPort") is UNKNOWN:
            results.append(None)
        elif protocol != "TCP":
            results.append(False)
        elif port is None:
            results.append(True)
        elif _port_number(port) is not None:
            first, last = _port_number(port), _port_number(entry.get("endPort"))
            results.append(any(first == n or (last is not None and first <= n <= last) for n in numbers))
        elif str(port) in names:
            results.append(True)
        else:
            results.append(False if all_names else None)
    return _any(results)
