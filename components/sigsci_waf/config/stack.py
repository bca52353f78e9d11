"""Reading `sigsci:*` stack config: every key known, structured values of the right kind, keys set with
--secret, and which keys hold secret config. Values come out raw; the resolve stage checks them."""

from __future__ import annotations

import difflib
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import pulumi

from .errors import ConfigError
from .sensitive import scrub, scrub_path, scrubbing, secret_words

NAMESPACE = "sigsci"
KNOWN_KEYS = ("site", "accessKeyId", "secretAccessKey", "existingSecret", "existingNamespaces", "agent", "apps",
              "ingress", "gateway", "injection", "verify")


@dataclass(frozen=True)
class StackInput:
    """The stack's `sigsci:` config as read: raw values, and which keys were set with --secret."""

    site: Any = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    existing_secret: Any = None
    existing_namespaces: list | None = None
    agent: dict | None = None
    apps: list | None = None
    ingress: dict | None = None
    gateway: dict | None = None
    injection: dict | None = None
    verify: dict | None = None
    secret_keys: frozenset[str] = field(default_factory=frozenset)


def _configured_keys() -> set[str]:
    """Every `sigsci:` key set for this stack, wherever the engine passed it."""
    keys = set(pulumi.runtime.config.CONFIG.get()) | set(pulumi.runtime.get_config_env())
    return {k.split(":", 1)[1] for k in keys if k.startswith(f"{NAMESPACE}:")}


def _is_secret(key: str) -> bool:
    full = f"{NAMESPACE}:{key}"
    return pulumi.runtime.is_config_secret(full) or full in pulumi.runtime.get_config_secret_keys_env()


def check_unknown_keys() -> None:
    for key in sorted(_configured_keys()):
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f"; did you mean {NAMESPACE}:{close[0]}?" if close else ""
            raise ConfigError(f"{NAMESPACE}:{key}", f"unknown key{hint} Known keys: "
                                                    + ", ".join(f"{NAMESPACE}:{k}" for k in KNOWN_KEYS))


def _object(config: pulumi.Config, key: str, kind: type, what: str) -> Any:
    try:
        value = config.get_object(key)
    except Exception:  # noqa: BLE001 - the engine's JSON error is replaced by one that names the key
        raise ConfigError(f"{NAMESPACE}:{key}", f"is not valid structured config; expected {what}") from None
    if value is not None and not isinstance(value, kind):
        raise ConfigError(f"{NAMESPACE}:{key}", f"must be {what}, not {type(value).__name__}")
    return value


def _key(config: pulumi.Config, key: str) -> str | None:
    """An agent key: only ever set with --secret, so that it is stored encrypted."""
    value = config.get(key)
    if value is not None and not _is_secret(key):
        raise ConfigError(f"{NAMESPACE}:{key}", "is stored in plain text in the stack file; set it with "
                                                f"`pulumi config set --secret {NAMESPACE}:{key} <value>`")
    return value


def read_stack() -> StackInput:
    """The stack's `sigsci:` config, every key known and of the right kind."""
    check_unknown_keys()
    config = pulumi.Config(NAMESPACE)
    return StackInput(
        site=config.get("site"),
        access_key_id=_key(config, "accessKeyId"),
        secret_access_key=_key(config, "secretAccessKey"),
        existing_secret=config.get("existingSecret"),
        existing_namespaces=_object(config, "existingNamespaces", list, "a list of namespace names"),
        agent=_object(config, "agent", dict, "an object of agent settings"),
        apps=_object(config, "apps", list, "a list of apps, each at least {name, image, port}"),
        ingress=_object(config, "ingress", dict, "an object describing the ingress controller (see "
                                                 "docs/configuration.md)"),
        gateway=_object(config, "gateway", dict, "an object describing the gateway (see docs/gateway.md)"),
        injection=_object(config, "injection", dict, "an object such as {namespaces: [shop]} (see "
                                                     "docs/injection.md)"),
        verify=_object(config, "verify", dict, "an object such as {echo: true} (see docs/configuration.md)"),
        secret_keys=frozenset(key for key in KNOWN_KEYS if _is_secret(key)),
    )


def secret_config_words() -> set[str]:
    """Every key name and value inside the `sigsci:` keys set with --secret (for scrubbing)."""
    words: set[str] = set()
    config = pulumi.Config(NAMESPACE)
    for key in KNOWN_KEYS:
        if not _is_secret(key):
            continue
        text = config.get(key) or ""
        try:
            words |= secret_words(json.loads(text))
        except ValueError:
            pass
        words |= secret_words(text)
    return words


@contextmanager
def no_secret_echo(words: set[str]) -> Iterator[None]:
    """A ConfigError raised inside repeats no key name or value of secret config: it names the key path. Each
    is scrubbed where it is made (ConfigError, `shown`), before a long value or message is cut; so is one
    raised later in a callback of an Output made inside."""
    with scrubbing(words):
        try:
            yield
        except ConfigError as err:
            if not words:
                raise
            raise ConfigError(scrub_path(err.key, words), scrub(err.problem, words)) from None
