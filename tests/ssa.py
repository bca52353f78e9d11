"""A model of the API server's server-side apply, as measured on a real kube-apiserver (DOMAIN.md,
"Server-side apply and patches"), for testing what the patch placement does to objects someone else owns.

- Every field (leaf) has a set of owners: field managers, each with its operation (Apply or Update).
- Apply: the manager's field set becomes exactly the fields it sent. Sending a value different from the live
  one for a field another manager owns is a conflict (HTTP 409) unless forced; forcing moves the ownership.
  Sending the value a field already has makes the manager a co-owner. Fields the manager owned before and
  no longer sends are removed if nobody else owns them (relinquish); list items keyed by name or port that
  it added alone go whole.
- Update (client-side apply, `kubectl patch`, Helm 3's three-way merge): the fields it changes are set and
  owned by it alone; the fields it deletes go.
- Defaults: after every write the server fills what is missing: a Service port's `targetPort` becomes its
  `port`; a pod template's `terminationGracePeriodSeconds` becomes 30.

Objects are nested dicts in the Kubernetes JSON shape. Lists that Kubernetes merges by key are flattened
by that key; other lists are single values.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

# Kubernetes' list-map keys (x-kubernetes-list-map-keys / patchMergeKey) for the lists these objects hold.
LIST_KEYS = {
    "ports": ("port", "protocol"),  # Service ports (containers' ports are told apart below)
    "containerPorts": ("containerPort", "protocol"),
    "containers": ("name",), "initContainers": ("name",), "volumes": ("name",), "env": ("name",),
    "volumeMounts": ("mountPath",),
}
DEFAULT_PROTOCOL = "TCP"
ITEM = "<item>"  # a list item's own existence: owned by whoever sent the item


class Conflict(Exception):
    def __init__(self, fields: list[tuple], owners: set[str]):
        super().__init__(f"conflict on {fields} with {sorted(owners)}")
        self.fields, self.owners = fields, owners


def _list_kind(path: tuple, key: str) -> str:
    """A container's `ports` (under a container item) are keyed by containerPort; a Service's by port."""
    return "containerPorts" if key == "ports" and path and isinstance(path[-1], tuple) else key


def flatten(value: Any, path: tuple = ()) -> dict[tuple, Any]:
    out: dict[tuple, Any] = {}
    if isinstance(value, dict):
        for key, child in value.items():
            out.update(flatten_key(path, key, child))
    else:
        out[path] = copy.deepcopy(value)
    return out


def flatten_key(path: tuple, key: str, child: Any) -> dict[tuple, Any]:
    kind = _list_kind(path, key)
    if isinstance(child, list) and kind in LIST_KEYS:
        out: dict[tuple, Any] = {}
        for item in child:
            item = dict(item)
            if kind in ("ports", "containerPorts"):
                item.setdefault("protocol", DEFAULT_PROTOCOL)
            item_key = (key, tuple(item[k] for k in LIST_KEYS[kind]))
            out[(*path, item_key, ITEM)] = True
            out.update(flatten(item, (*path, item_key)))
        return out
    if isinstance(child, dict) and child:
        return flatten(child, (*path, key))
    return {(*path, key): copy.deepcopy(child)}


class _Items(dict):
    """A keyed list while it is rebuilt: item key -> item."""


def unflatten(fields: dict[tuple, Any]) -> dict:
    """The object as nested dicts and lists again (keyed lists in key order, so two states compare)."""
    root: dict = {}
    for path, value in fields.items():
        node = root
        for part in path[:-1]:
            if isinstance(part, tuple):
                node = node.setdefault(part[0], _Items()).setdefault(part[1], {})
            else:
                node = node.setdefault(part, {})
        if path[-1] != ITEM:
            node[path[-1]] = value

    def plain(node: Any) -> Any:
        if isinstance(node, _Items):
            return [plain(node[k]) for k in sorted(node, key=repr)]
        if isinstance(node, dict):
            return {k: plain(v) for k, v in node.items()}
        return node

    return plain(root)


def _under(path: tuple, prefix: tuple) -> bool:
    return path[:len(prefix)] == prefix


@dataclass
class Obj:
    kind: str
    fields: dict[tuple, Any] = field(default_factory=dict)
    owners: dict[tuple[str, str], set[tuple]] = field(default_factory=dict)  # (manager, operation) -> fields

    def owned_by_others(self, path: tuple, me: tuple[str, str]) -> set[str]:
        return {m for m, fs in self.owners.items() if m != me and path in fs}

    def value(self) -> dict:
        return unflatten(self.fields)


IDENTITY = {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")}


class Cluster:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}

    def get(self, kind: str, namespace: str, name: str) -> Obj:
        return self.objects[(kind, namespace, name)]

    def _obj(self, body: dict) -> Obj:
        key = (body["kind"], body["metadata"].get("namespace", "default"), body["metadata"]["name"])
        return self.objects.setdefault(key, Obj(body["kind"]))

    def apply(self, manager: str, body: dict, *, force: bool = False) -> None:
        obj, me = self._obj(body), (manager, "Apply")
        sent = {p: v for p, v in flatten(body).items() if p not in IDENTITY}
        conflicts = [p for p, v in sent.items() if p in obj.fields and obj.fields[p] != v and obj.owned_by_others(p, me)]
        if conflicts and not force:
            raise Conflict(conflicts, set().union(*(obj.owned_by_others(p, me) for p in conflicts)))
        for p in conflicts:
            for fs in obj.owners.values():
                fs.discard(p)
        before = obj.owners.get(me, set())
        obj.fields.update(sent)
        obj.owners[me] = set(sent)
        self._release(obj, before - set(sent))
        self._default(obj)

    def update(self, manager: str, fields: dict[tuple, Any], deleted: set[tuple] = frozenset(), *,
               obj: Obj) -> None:
        me = (manager, "Update")
        mine = obj.owners.setdefault(me, set())
        for p, v in fields.items():
            if obj.fields.get(p, object()) != v or p not in obj.fields:
                obj.fields[p] = v
                for fs in obj.owners.values():
                    fs.discard(p)
                mine.add(p)
        for p in deleted:
            for q in [q for q in obj.fields if _under(q, p)]:
                del obj.fields[q]
                for fs in obj.owners.values():
                    fs.discard(q)
        self._default(obj)

    def create_or_update(self, manager: str, body: dict, last_applied: dict | None = None) -> None:
        """Helm 3 / client-side apply: a three-way merge from the last applied manifest to `body`."""
        obj = self._obj(body)
        desired = {p: v for p, v in flatten(body).items() if p not in IDENTITY}
        previous = {p: v for p, v in flatten(last_applied).items() if p not in IDENTITY} if last_applied else {}
        changed = {p: v for p, v in desired.items() if obj.fields.get(p, object()) != v}
        self.update(manager, changed, {p for p in previous if p not in desired}, obj=obj)

    def merge_patch(self, manager: str, kind: str, namespace: str, name: str, patch: dict) -> None:
        """`kubectl patch` (strategic merge): the fields it names, merged into lists by their keys."""
        obj = self.get(kind, namespace, name)
        self.update(manager, {p: v for p, v in flatten(patch).items() if p[-1] != ITEM or p not in obj.fields},
                    obj=obj)

    def relinquish(self, manager: str, kind: str, namespace: str, name: str) -> None:
        """What deleting a Pulumi Patch resource sends: an apply of only the object's identity."""
        self.apply(manager, {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}})

    def _release(self, obj: Obj, dropped: set[tuple]) -> None:
        owned = set().union(*obj.owners.values()) if obj.owners else set()
        for p in dropped:
            if p in owned or p not in obj.fields:
                continue
            if p[-1] == ITEM:  # an item nobody else sends goes whole, with whatever is under it
                item = p[:-1]
                if not any(_under(q, item) for q in owned):
                    for q in [q for q in obj.fields if _under(q, item)]:
                        del obj.fields[q]
                continue
            del obj.fields[p]

    def _default(self, obj: Obj) -> None:
        if obj.kind == "Service":
            for p in [p for p in obj.fields if p[-1] == ITEM and p[-2][0] == "ports"]:
                item = p[:-1]
                if (*item, "targetPort") not in obj.fields:
                    obj.fields[(*item, "targetPort")] = obj.fields[(*item, "port")]
        if obj.kind == "Deployment":
            grace = ("spec", "template", "spec", "terminationGracePeriodSeconds")
            if any(_under(p, ("spec", "template", "spec")) for p in obj.fields) and grace not in obj.fields:
                obj.fields[grace] = 30
