"""SigsciSecret: the agent credentials as an Opaque Secret in every namespace that runs an agent."""

import hashlib
from typing import Optional, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .agent import ACCESS_KEY_FIELD, SECRET_KEY_FIELD
from .errors import ConfigError
from .workloads import PART_OF
from .schema import SecretSpec, parse
from .validators import _DNS_LABEL


class SigsciSecretArgs(TypedDict, total=False):
    namespaces: list[str]
    """Namespaces whose pods run an agent; the Secret is created in each."""
    site: Optional[str]
    """Site name; the Secret is named `sigsci.<site>` as in the vendor guide. Required with the keys."""
    access_key_id: Optional[pulumi.Input[str]]
    """Agent Access Key. Treated as a Pulumi secret whatever is passed."""
    secret_access_key: Optional[pulumi.Input[str]]
    """Agent Secret Key. Treated as a Pulumi secret whatever is passed."""
    existing_secret: Optional[str]
    """Name of a Secret created out of band (e.g. by External Secrets) in every namespace; nothing is created."""


def credentials_fingerprint(access_key_id: str, secret_access_key: str) -> str:
    """A short one-way digest of the keys: it changes when they rotate and reveals nothing about them."""
    digest = hashlib.sha256(b"sigsci-credentials\0" + access_key_id.encode() + b"\0" + secret_access_key.encode())
    return digest.hexdigest()[:16]


def secret_manifest(name: str, namespace: str, access_key_id, secret_access_key) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(PART_OF)},
        "type": "Opaque",
        "stringData": {ACCESS_KEY_FIELD: access_key_id, SECRET_KEY_FIELD: secret_access_key},
    }


class SigsciSecret(pulumi.ComponentResource):
    """The agent credentials. `credentials_hash` (None for an existing Secret) goes on pod templates so
    that rotating the keys rolls the pods that read them."""

    secret_name: str
    """Name of the Secret with the agent keys, the same in every namespace."""
    credentials_hash: Optional[pulumi.Output[str]]
    """A short hash of the keys (None for an existing Secret): on pod templates, so a rotation rolls the pods."""

    def __init__(self, name: str, args: SigsciSecretArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("sigsci:index:SigsciSecret", name, None, opts)
        prefix = f"SigsciSecret '{name}'"
        has_keys = args.get("access_key_id") is not None or args.get("secret_access_key") is not None
        if has_keys and (args.get("access_key_id") is None or args.get("secret_access_key") is None):
            missing = "access_key_id" if args.get("access_key_id") is None else "secret_access_key"
            raise ConfigError(f"{prefix}.{missing}", "is required: give both agent keys, or neither with "
                                                     "existing_secret")
        spec: SecretSpec = parse(SecretSpec, {"site": args.get("site"), "existing_secret": args.get("existing_secret"),
                                              "has_keys": has_keys}, prefix, snake=True)
        namespaces = args.get("namespaces") or []
        for index, namespace in enumerate(namespaces):
            if not isinstance(namespace, str) or not _DNS_LABEL.match(namespace) or len(namespace) > 63:
                raise ConfigError(f"{prefix}.namespaces[{index}]", f"{namespace!r} is not a namespace name "
                                                                   "(a DNS-1123 label)")
        self.secret_name = spec.secret_name
        self.credentials_hash = None
        if spec.existing_secret is None:
            key_id = pulumi.Output.secret(args["access_key_id"])
            secret_key = pulumi.Output.secret(args["secret_access_key"])
            for namespace in sorted(set(namespaces)):
                manifest = secret_manifest(self.secret_name, namespace, key_id, secret_key)
                k8s.core.v1.Secret(
                    f"{name}-{namespace}",
                    metadata=manifest["metadata"],
                    type=manifest["type"],
                    string_data=manifest["stringData"],
                    opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["data", "stringData"],
                                                depends_on=opts.depends_on if opts is not None else None),
                )
            # The digest is one-way and truncated, so it is safe to show in a diff where a rotation happened.
            self.credentials_hash = pulumi.Output.unsecret(
                pulumi.Output.all(key_id, secret_key).apply(lambda keys: credentials_fingerprint(*keys)))
        self.register_outputs({"secretName": self.secret_name, "namespaces": sorted(set(namespaces))})
