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
