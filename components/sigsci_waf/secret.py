"""SigsciSecret: the agent credentials as an Opaque Secret in every namespace that runs an agent."""

from typing import Any, Iterable, Optional, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from .agent import ACCESS_KEY_FIELD, SECRET_KEY_FIELD
from .errors import ConfigError, check_call, shown
from .workloads import PART_OF
from .schema import SecretSpec, parse
from .sensitive import mark, reveal
from .validators import is_dns_label


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


class SecretName(str):
    """The Secret's name, knowing where it exists: `namespaces` the component created it in, or None for
    an existing Secret (assumed in every namespace). Components that read it refuse other namespaces."""

    namespaces: frozenset[str] | None

    def __new__(cls, name: str, namespaces: Iterable[str] | None) -> "SecretName":
        value = super().__new__(cls, name)
        value.namespaces = None if namespaces is None else frozenset(namespaces)
        return value


def check_secret_name(value: Any, key: str) -> Any:
    """The Secret's name as a component takes it: a non-empty string, or an Output of one (from another
    resource; it is checked when known, which a preview may not be)."""
    if isinstance(value, pulumi.Output):
        def known(name: Any) -> Any:
            if not isinstance(name, str) or not name:
                raise ConfigError(key, f"resolved to {shown(name)}; it must name the Secret with the agent keys")
            return name
        return value.apply(known)
    if not isinstance(value, str) or not value:
        raise ConfigError(key, f"is required: the name of the Secret with the agent keys (SigsciSecret.secret_name), "
                               f"a string, not {shown(value)}")
    return value


def check_secret_reaches(secret_name: Any, namespace: str, key: str) -> None:
    """A pod in `namespace` can read the agent keys only from a Secret in that namespace."""
    created = secret_name.namespaces if isinstance(secret_name, SecretName) else None
    if created is not None and namespace not in created:
        where = ", ".join(sorted(created)) or "no namespace"
        raise ConfigError(key, f"the SigsciSecret creates its Secret only in {where}, not in namespace "
                               f"{namespace}: the agent would not start there. Add {namespace} to the "
                               "SigsciSecret's namespaces")


def _check_key(value: Any, key: str) -> None:
    """A plain key must be a non-empty string; an Output is checked by the API server (stringData)."""
    if isinstance(value, pulumi.Output):
        return
    if not isinstance(value, str):
        raise ConfigError(key, f"must be a string or a pulumi Output of one, not {type(value).__name__}")
    if not value.strip():
        raise ConfigError(key, "is empty: the agent does not start without both keys")


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
    """A random token renewed whenever a key changes (None for an existing Secret): on pod templates, so a
    rotation rolls the pods. It is not derived from the keys."""

    def __init__(self, name: str, args: SigsciSecretArgs, opts: Optional[pulumi.ResourceOptions] = None, *,
                 _secret_site: bool = False):
        """`_secret_site`: the stack program's site came from secret config, so the Secret's name is one."""
        prefix = check_call("SigsciSecret", name, args, opts)
        super().__init__("sigsci:index:SigsciSecret", name, None, opts)
        has_keys = args.get("access_key_id") is not None or args.get("secret_access_key") is not None
        if has_keys and (args.get("access_key_id") is None or args.get("secret_access_key") is None):
            missing = "access_key_id" if args.get("access_key_id") is None else "secret_access_key"
            raise ConfigError(f"{prefix}.{missing}", "is required: give both agent keys, or neither with "
                                                     "existing_secret")
        for field in ("access_key_id", "secret_access_key"):
            if has_keys:
                _check_key(args[field], f"{prefix}.{field}")  # type: ignore[literal-required]
        spec: SecretSpec = parse(SecretSpec, {"site": args.get("site"), "existing_secret": args.get("existing_secret"),
                                              "has_keys": has_keys}, prefix, snake=True)
        namespaces = args.get("namespaces") or []
        if not isinstance(namespaces, (list, tuple)):
            raise ConfigError(f"{prefix}.namespaces", f"must be a list of namespace names, not "
                                                      f"{type(namespaces).__name__} (e.g. ['shop'], not 'shop')")
        for index, namespace in enumerate(namespaces):
            if not isinstance(namespace, str) or not is_dns_label(namespace):
                raise ConfigError(f"{prefix}.namespaces[{index}]", "is not a namespace name (a DNS-1123 label: "
                                                                   "lower-case letters, digits and '-', at most 63)")
        created = sorted(set(namespaces))
        self.secret_name = SecretName(spec.secret_name, None if spec.existing_secret is not None else created)
        self.credentials_hash = None
        # By namespace: a workload waits for the Secret of its own namespace only (one dependency each, not
        # one per namespace of the stack).
        self.secrets: dict[str, k8s.core.v1.Secret] = {}
        if spec.existing_secret is None:
            key_id = pulumi.Output.secret(args["access_key_id"])  # type: ignore[typeddict-item]
            secret_key = pulumi.Output.secret(args["secret_access_key"])  # type: ignore[typeddict-item]
            name_value = reveal(mark(spec.secret_name, _secret_site))
            for namespace in created:
                manifest = secret_manifest(name_value, namespace, key_id, secret_key)
                self.secrets[namespace] = k8s.core.v1.Secret(
                    # `.` cannot be in a namespace, so no two (component, namespace) pairs share a name.
                    f"{name}.{namespace}",
                    metadata=manifest["metadata"],
                    type=manifest["type"],
                    string_data=manifest["stringData"],
                    opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["data", "stringData"],
                                                depends_on=opts.depends_on if opts is not None else None,
                                                aliases=[pulumi.Alias(name=f"{name}-{namespace}")]),
                )
            # A random token that pulumi-random renews whenever a key changes (its keepers): pod templates
            # carry it, so a rotation rolls the pods, and it is derived from no key material at all.
            rotation = random.RandomId(f"{name}-rotation", byte_length=8,
                                       keepers={"accessKeyId": key_id, "secretAccessKey": secret_key},
                                       opts=pulumi.ResourceOptions(parent=self))
            self.credentials_hash = pulumi.Output.unsecret(rotation.hex)
        self.register_outputs({"secretName": self.secret_name, "namespaces": sorted(set(namespaces))})
