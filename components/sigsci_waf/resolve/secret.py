"""The agent keys, resolved: where they come from, which namespaces get the Secret, and the rules every
component that reads it follows (a name that resolves to a Secret, in a namespace it exists in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from pydantic.alias_generators import to_camel

from ..config.errors import ConfigError, shown
from ..config.kube import is_dns_label
from ..config.model import parse
from ..config.secret import SecretSpec


# What a component is handed besides its settings: the keys' Secret and the rotation token.
NOT_SETTINGS = ("secret_name", "credentials_hash")


class SecretName(str):
    """The Secret's name, knowing where it exists: `namespaces` the component created it in, or None for
    an existing Secret (assumed in every namespace). Components that read it refuse other namespaces."""

    namespaces: frozenset[str] | None

    def __new__(cls, name: str, namespaces: Iterable[str] | None) -> "SecretName":
        value = super().__new__(cls, name)
        value.namespaces = None if namespaces is None else frozenset(namespaces)
        return value


@dataclass(frozen=True)
class ResolvedSecret:
    """Where the agent keys come from and the namespaces the Secret is created in."""

    spec: SecretSpec
    namespaces: tuple[str, ...]
    access_key_id: Any = None  # the keys (an Input, secret), when the Secret is created from them
    secret_access_key: Any = None
    name_is_secret: bool = False  # the site or existingSecret came from secret config: the name is secret too
    key_names: tuple[str, str] = ("accessKeyId", "secretAccessKey")  # how errors name the two keys

    @property
    def creates(self) -> bool:
        return self.spec.existing_secret is None

    @property
    def name(self) -> SecretName:
        return SecretName(self.spec.secret_name, self.namespaces if self.creates else None)


def resolve_secret(prefix: str, *, site: Any, existing_secret: Any, access_key_id: Any, secret_access_key: Any,
                   namespaces: Any, snake: bool = False, name_is_secret: bool = False) -> ResolvedSecret:
    """The keys (both or neither), the site or an existing Secret, and the namespaces, checked; keys are
    spelled `key_names` in errors (stack config's camelCase or the component's snake_case)."""
    key_id_name, secret_key_name = ("access_key_id", "secret_access_key") if snake else ("accessKeyId",
                                                                                       "secretAccessKey")
    has_keys = access_key_id is not None or secret_access_key is not None
    if has_keys and (access_key_id is None or secret_access_key is None):
        missing = key_id_name if access_key_id is None else secret_key_name
        raise ConfigError(_key(prefix, missing), "is required as well: set both agent keys, or neither with "
                                                 + ("existing_secret" if snake else "existingSecret"))
    if has_keys:
        for name, value in ((key_id_name, access_key_id), (secret_key_name, secret_access_key)):
            check_key(value, _key(prefix, name))
    given = {"site": site, "existing_secret": existing_secret, "has_keys": has_keys}
    spec: SecretSpec = parse(SecretSpec, given if snake else {to_camel(k): v for k, v in given.items()}, prefix,
                             snake=snake)
    if namespaces is None:
        namespaces = []
    if not isinstance(namespaces, (list, tuple)):
        raise ConfigError(_key(prefix, "namespaces"), f"must be a list of namespace names, not "
                                                      f"{type(namespaces).__name__} (e.g. ['shop'], not 'shop')")
    for index, namespace in enumerate(namespaces):
        if not isinstance(namespace, str) or not is_dns_label(namespace):
            raise ConfigError(f"{_key(prefix, 'namespaces')}[{index}]", "is not a namespace name (a DNS-1123 "
                                                                        "label: lower-case letters, digits and "
                                                                        "'-', at most 63)")
    return ResolvedSecret(spec=spec, namespaces=tuple(sorted(set(namespaces))), access_key_id=access_key_id,
                          secret_access_key=secret_access_key, name_is_secret=name_is_secret,
                          key_names=(_key(prefix, key_id_name), _key(prefix, secret_key_name)))


def _key(prefix: str, name: str) -> str:
    return f"{prefix}{name}" if prefix.endswith(":") else f"{prefix}.{name}"


def check_key(value: Any, key: str) -> None:
    """A plain key must be a non-empty string; an Output is checked when known (`known_key`)."""
    import pulumi

    if isinstance(value, pulumi.Output):
        return
    if not isinstance(value, str):
        raise ConfigError(key, f"must be a string or a pulumi Output of one, not {type(value).__name__}")
    if not value.strip():
        raise ConfigError(key, "is empty: the agent does not start without both keys")
    problem = key_text_problem(value)
    if problem is not None:
        raise ConfigError(key, problem)


def key_text_problem(value: str) -> str | None:
    """What is wrong with an agent key's text, never repeating it: keys are printable, with nothing around them
    (a pasted key often brings its line break along, and the agent would send it)."""
    if value != value.strip():
        return ("has whitespace or a line break before or after it: set the key alone (copy it without the "
                "line's end)")
    if not value.isprintable():
        return "holds a control character: an agent key is printable text; set the key as the console shows it"
    return None


def known_key(value: Any, key: str) -> Any:
    """A key as the Secret takes it, a secret Output: one given as an Output is checked when its value is known
    (during the update at the latest), before the Secret that carries it, and so before any pod that reads it,
    is created or changed. The error never repeats the value."""
    import pulumi

    from ..config.errors import report_once

    def known(resolved: Any) -> Any:
        if resolved is None:
            raise ConfigError(key, "resolved to nothing (None): the agent does not start without both keys; "
                                   "pass an output that holds the key")
        if not isinstance(resolved, str):
            raise ConfigError(key, f"resolved to a {type(resolved).__name__}, not a string: the agent does not "
                                   "start without both keys")
        if not resolved.strip():
            raise ConfigError(key, "resolved to an empty string: the agent does not start without both keys")
        problem = key_text_problem(resolved)
        if problem is not None:
            raise ConfigError(key, f"resolved to a key that {problem}")
        return resolved

    if isinstance(value, pulumi.Output):
        report_once()
        value = value.apply(known)
    return pulumi.Output.secret(value)


def check_secret_name(value: Any, key: str) -> Any:
    """The Secret's name as a component takes it: a non-empty string, or an Output of one (from another
    resource; it is checked when known, which a preview may not be)."""
    import pulumi

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


def check_secret_reaches(secret_name: Any, namespace: str, key: str, *, defaulted_key: str | None = None) -> None:
    """A pod in `namespace` can read the agent keys only from a Secret in that namespace. `defaulted_key`:
    the namespace was not given (it is the default), so the likely mistake is there, and the error says so."""
    created = secret_name.namespaces if isinstance(secret_name, SecretName) else None
    if created is not None and namespace not in created:
        where = ", ".join(sorted(created)) or "no namespace"
        if defaulted_key is not None:
            raise ConfigError(defaulted_key, f"is not set, so it is {namespace}, where the SigsciSecret creates no "
                                             f"Secret (it creates it in {where}): set namespace, or add "
                                             f"{namespace} to the SigsciSecret's namespaces")
        raise ConfigError(key, f"the SigsciSecret creates its Secret only in {where}, not in namespace "
                               f"{namespace}: the agent would not start there. Add {namespace} to the "
                               "SigsciSecret's namespaces")


def namespace_check(model: Any, secret_name: Any, prefix: str) -> Any:
    """A component's namespace known only during the update: the field's own rule, then the Secret's reach."""
    from .deferred import field_check

    rule = field_check(model, "namespace")

    def check(namespace: Any) -> None:
        rule(namespace)
        check_secret_reaches(secret_name, namespace, f"{prefix}.secret_name")

    return check


def check_namespace_reached(secret_name: Any, namespace: str, args: Mapping[str, Any], prefix: str,
                            deferred: Any) -> None:
    """A component's plain namespace is in the Secret's reach now (a deferred one is checked once known)."""
    if "namespace" not in deferred.outputs:
        check_secret_reaches(secret_name, namespace, f"{prefix}.secret_name",
                             defaulted_key=None if "namespace" in args else f"{prefix}.namespace")


def secret_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """The SigsciSecret args resolve_secret takes."""
    return {"site": args.get("site"), "existing_secret": args.get("existing_secret"),
            "access_key_id": args.get("access_key_id"), "secret_access_key": args.get("secret_access_key"),
            "namespaces": args.get("namespaces")}
