"""Values only the resource shell knows: the builders place a `Ref`, the shell binds it to the real value.

The resolve stage builds every object once, before anything is declared, so that a bad config stops the
preview first; the Secret's name and the rotation token are other resources' outputs, so the objects carry
these placeholders until `config.sensitive.reveal` swaps them in.
"""

from __future__ import annotations


class Ref:
    """A placeholder for a value bound at declaration."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


SECRET_NAME = Ref("the agent keys' Secret name")
ROTATION = Ref("the key rotation token")

# The controller of an existing Gateway, read from the cluster and checked against the implementation: the
# objects that rely on it carry it, so none is created before the check passes.
GATEWAY_CONTROLLER = Ref("the existing Gateway's checked controller")

# placement module on an existing Deployment: its app container, read from the cluster and found there; the
# patch carries it, so the agent is not added to a Deployment without that container.
MODULE_CONTAINER = Ref("the existing Deployment's checked app container")

# Injection by label: the cluster's version, read through the provider and found to serve the admission API the
# policies need; they carry it, so none is created before the check passes.
ADMISSION_API = Ref("the cluster's checked admission API")

# placement patch: the live Service and Deployment, read and found to be what the patch assumes; both patches
# carry it, so neither is applied before the check passes.
PATCH_CHECKED = Ref("the patched objects' checked live state")

# placement service: the app's own Service, read from the cluster and checked: its selector and the targetPort
# of the port the agents proxy to, which the NetworkPolicy that admits only the agents to the app's pods takes.
UPSTREAM_SELECTOR = Ref("the upstream Service's checked selector")
UPSTREAM_TARGET_PORT = Ref("the upstream Service's checked target port")

# The values read from the cluster and checked there: the stack program declares nothing until every one of
# them has passed (program.py), so a refusal from a live read comes before the first resource.
CHECKED = (GATEWAY_CONTROLLER, MODULE_CONTAINER, ADMISSION_API, PATCH_CHECKED, UPSTREAM_SELECTOR,
           UPSTREAM_TARGET_PORT)


class Checks:
    """The checked values (`CHECKED`) met while declaring: the resource shell hands each in as it binds it."""

    def __init__(self) -> None:
        self.outputs: dict[int, object] = {}

    def collect(self, bindings: object) -> None:
        for ref in CHECKED:
            value = bindings.get(ref) if isinstance(bindings, dict) else None
            if value is not None:
                self.outputs.setdefault(id(value), value)


# The collector of the stack program being declared, if any (a component used on its own has none).
collecting: list[Checks] = []
