"""SigsciSecret: the agent credentials as an Opaque Secret in every namespace that runs an agent."""

from typing import Optional, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..agent.container import ACCESS_KEY_FIELD, SECRET_KEY_FIELD
from ..agent.workloads import PART_OF
from ..config.errors import check_call
from ..declare import registered
from ..config.sensitive import mark, reveal
from ..resolve.secret import ResolvedSecret, known_key, resolve_secret, secret_args


class SigsciSecretArgs(TypedDict, total=False):
    namespaces: Required[list[str]]
    """Namespaces whose pods run an agent; the Secret is created in each."""
    site: Optional[str]
    """Site name; the Secret is named `sigsci.<site>` as in the vendor guide. Required with the keys."""
    access_key_id: Optional[pulumi.Input[str]]
    """Agent Access Key. Treated as a Pulumi secret whatever is passed."""
    secret_access_key: Optional[pulumi.Input[str]]
    """Agent Secret Key. Treated as a Pulumi secret whatever is passed."""
    existing_secret: Optional[str]
    """Name of a Secret created out of band (e.g. by External Secrets) in every namespace; nothing is created."""


def secret_manifest(name: str, namespace: str, access_key_id, secret_access_key) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(PART_OF)},
        "type": "Opaque",
        "stringData": {ACCESS_KEY_FIELD: access_key_id, SECRET_KEY_FIELD: secret_access_key},
    }


_TYPE = "sigsci:index:SigsciSecret"


class SigsciSecret(pulumi.ComponentResource):
    """The agent credentials. `credentials_hash` (None for an existing Secret) goes on pod templates so
    that rotating the keys rolls the pods that read them."""

    secret_name: str
    """Name of the Secret with the agent keys, the same in every namespace."""
    credentials_hash: Optional[pulumi.Output[str]]
    """A random token renewed whenever a key changes (None for an existing Secret): on pod templates, so a
    rotation rolls the pods. It is not derived from the keys."""

    def __init__(self, name: str, args: SigsciSecretArgs, opts: Optional[pulumi.ResourceOptions] = None):
        prefix = check_call("SigsciSecret", name, args, opts, SigsciSecretArgs)
        resolved = resolve_secret(prefix, snake=True, **secret_args(args))
        super().__init__(_TYPE, name, None, opts)
        self._declare(name, resolved, opts)

    @classmethod
    def from_resolved(cls, name: str, resolved: ResolvedSecret,
                      opts: Optional[pulumi.ResourceOptions] = None) -> "SigsciSecret":
        """The component for keys the resolve stage has already checked (the stack program's way in)."""
        self = registered(cls, _TYPE, name, opts)
        self._declare(name, resolved, opts)
        return self

    def _declare(self, name: str, resolved: ResolvedSecret, opts: Optional[pulumi.ResourceOptions]) -> None:
        self.secret_name = resolved.name
        self.credentials_hash = None
        # By namespace: a workload waits for the Secret of its own namespace only (one dependency each, not
        # one per namespace of the stack).
        self.secrets: dict[str, k8s.core.v1.Secret] = {}
        if resolved.creates:
            key_id = known_key(resolved.access_key_id, resolved.key_names[0])
            secret_key = known_key(resolved.secret_access_key, resolved.key_names[1])
            name_value = reveal(mark(resolved.spec.secret_name, resolved.name_is_secret))
            for namespace in resolved.namespaces:
                manifest = secret_manifest(name_value, namespace, key_id, secret_key)
                self.secrets[namespace] = k8s.core.v1.Secret(
                    # `.` cannot be in a namespace, so no two (component, namespace) pairs share a name.
                    f"{name}.{namespace}",
                    metadata=manifest["metadata"],
                    type=manifest["type"],
                    string_data=manifest["stringData"],
                    opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["data", "stringData"],
                                                depends_on=opts.depends_on if opts is not None else None),
                )
            # A random token that pulumi-random renews whenever a key changes (its keepers): pod templates
            # carry it, so a rotation rolls the pods, and it is derived from no key material at all.
            rotation = random.RandomId(f"{name}-rotation", byte_length=8,
                                       keepers={"accessKeyId": key_id, "secretAccessKey": secret_key},
                                       opts=pulumi.ResourceOptions(parent=self))
            self.credentials_hash = pulumi.Output.unsecret(rotation.hex)
        self.register_outputs({"secretName": self.secret_name, "namespaces": list(resolved.namespaces)})
