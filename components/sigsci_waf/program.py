"""The stack program: reads `sigsci:*` stack config, validates all of it, then builds the components.

Everything is validated before the first resource is declared, so bad config never
leaves a half-built stack behind.
"""

from __future__ import annotations

import difflib
import gc
import json
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

import pulumi
import pulumi_kubernetes as k8s

from .errors import ConfigError
from .restore import restore_hook
from .revproxy import ResolvedApp, resolve_app
from .revproxy_app import SigsciRevProxyApp
from .schema import AgentSettings, SecretSpec, parse
from .secret import SigsciSecret
from .validators import is_dns_label
from .workloads import namespace_manifest

if TYPE_CHECKING:
    from .ingress import ResolvedIngress
from .sensitive import mark, scrub, scrub_path, secret_words

NAMESPACE = "sigsci"
KNOWN_KEYS = ("site", "accessKeyId", "secretAccessKey", "existingSecret", "existingNamespaces", "agent", "apps",
              "ingress")
# Namespaces the cluster itself keeps: a stack never declares them (deleting the stack would try to delete them).
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


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


def read_apps(config: pulumi.Config, shared_agent: dict, *, required: bool = True,
              secret: bool = False) -> list[ResolvedApp]:
    apps_raw = _object(config, "apps", list, "a list of apps, each at least {name, image, port}")
    if not apps_raw and required:
        raise ConfigError(f"{NAMESPACE}:apps", "is required unless sigsci:ingress is set: a list of apps to "
                                               "protect, each at least {name, image, port}")
    apps_raw = apps_raw or []
    apps = []
    seen: dict[tuple[str, str, str], str] = {}
    for index, raw in enumerate(apps_raw):
        key = f"{NAMESPACE}:apps[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError(key, "must be an object such as {name: web, image: nginx:1.27, port: 8080}")
        app = resolve_app(raw, shared_agent, key, secret=secret)
        spec = app.spec
        # The component is named <name>.<namespace>: two apps of one name in a namespace would collide.
        claims = [("app name", spec.namespace, spec.name), ("Service", spec.namespace, spec.service or spec.name)]
        if spec.placement == "patch":
            claims.append(("Deployment", spec.namespace, spec.deployment))
        else:
            claims.append(("Deployment", spec.namespace, spec.name))
        for claim in claims:
            if claim in seen:
                raise ConfigError(f"{key}.name", f"{claim[0]} {claim[1]}/{claim[2]} is already used by "
                                                 f"{seen[claim]}; each app needs its own")
            seen[claim] = key
        apps.append(app)
    return apps


def read_ingress(config: pulumi.Config, shared_agent: dict, apps: list[ResolvedApp],
                 secret_name: str, *, secret: bool = False) -> ResolvedIngress | None:
    raw = _object(config, "ingress", dict, "an object describing the ingress controller (see docs/configuration.md)")
    if raw is None:
        return None
    from .ingress import (agent_service_manifests, helm_values, merge_extra_values, resolve_ingress, resolve_routes,
                          route_targets)
    ingress = resolve_ingress(raw, shared_agent, f"{NAMESPACE}:ingress", secret=secret)
    check_shared_names(ingress, apps)
    # Everything the component will build, built once now so that any error stops the preview first.
    resolve_routes(ingress, route_targets(apps))
    merge_extra_values(ingress, helm_values(ingress, secret_name))
    agent_service_manifests(ingress, secret_name)
    return ingress


def check_shared_names(ingress: ResolvedIngress, apps: list[ResolvedApp]) -> None:
    """The ingress's objects and pods must not be mistaken for an app's in the same namespace."""
    from .ingress import agent_service_name, chart_name

    namespace = ingress.spec.namespace
    agents = agent_service_name(ingress) if ingress.spec.agent_lifetime == "service" else None
    for app in apps:
        spec = app.spec
        if spec.namespace != namespace:
            continue
        names = {spec.name} | ({spec.service, spec.deployment} if spec.placement == "patch" else set())
        if agents in names:
            raise ConfigError(f"{ingress.key}.releaseName", f"the ingress agents' Deployment and Service "
                                                            f"{namespace}/{agents} would take a name {app.key} "
                                                            "uses; choose another releaseName or namespace")
        if spec.placement == "owned" and spec.name == chart_name(ingress):
            raise ConfigError(f"{app.key}.name", f"{spec.name!r} in namespace {namespace}: the app's selector "
                                                 f"app.kubernetes.io/name={spec.name} would also pick the "
                                                 "ingress controller's pods; rename the app or move it")


def read_secret_spec(config: pulumi.Config) -> tuple[SecretSpec, Any, Any]:
    for key in ("accessKeyId", "secretAccessKey"):
        value = config.get(key)
        if value is not None and not _is_secret(key):
            raise ConfigError(f"{NAMESPACE}:{key}", "is stored in plain text in the stack file; set it with "
                                                    f"`pulumi config set --secret {NAMESPACE}:{key} <value>`")
        if value is not None and not value.strip():
            raise ConfigError(f"{NAMESPACE}:{key}", "is empty: the agent does not start without both keys; set "
                                                    f"it with `pulumi config set --secret {NAMESPACE}:{key}`")
    key_id, secret_key = config.get_secret("accessKeyId"), config.get_secret("secretAccessKey")
    if (key_id is None) != (secret_key is None):
        missing = "accessKeyId" if key_id is None else "secretAccessKey"
        raise ConfigError(f"{NAMESPACE}:{missing}", "is required as well: set both agent keys with "
                                                    "`pulumi config set --secret`")
    spec = parse(SecretSpec, {"site": config.get("site"), "existingSecret": config.get("existingSecret"),
                              "hasKeys": key_id is not None}, f"{NAMESPACE}:")
    return spec, key_id, secret_key


def read_existing_namespaces(config: pulumi.Config) -> set[str]:
    names = _object(config, "existingNamespaces", list, "a list of namespace names") or []
    for index, name in enumerate(names):
        if not isinstance(name, str) or not is_dns_label(name):
            raise ConfigError(f"{NAMESPACE}:existingNamespaces[{index}]", "is not a namespace name (a DNS-1123 "
                                                                           "label)")
    return set(names)


def namespaces_to_create(apps: list[ResolvedApp], ingress: ResolvedIngress | None, existing: set[str]) -> set[str]:
    """The namespaces the stack owns: where it runs pods of its own (owned and service placements, and the
    ingress controller unless createNamespace is false). Never the cluster's own, one listed as existing,
    or one a patched app lives in: that app's Deployment proves the namespace is someone else's, and
    deleting the stack would delete it with everything in it."""
    wanted = {app.spec.namespace for app in apps if app.spec.placement != "patch"}
    if ingress is not None and ingress.spec.create_namespace:
        wanted.add(ingress.spec.namespace)
    patched = {app.spec.namespace for app in apps if app.spec.placement == "patch"}
    return wanted - SYSTEM_NAMESPACES - patched - existing


def secret_config_words() -> tuple[set[str], set[str]]:
    """The `sigsci:` keys set with --secret, and every key name and value inside them (for scrubbing)."""
    keys = {key for key in KNOWN_KEYS if _is_secret(key)}
    words: set[str] = set()
    config = pulumi.Config(NAMESPACE)
    for key in keys:
        text = config.get(key) or ""
        try:
            words |= secret_words(json.loads(text))
        except ValueError:
            pass
        words |= secret_words(text)
    return keys, words


@contextmanager
def no_secret_echo(words: set[str]) -> Iterator[None]:
    """A ConfigError raised inside repeats no key name or value of secret config: it names the key path."""
    try:
        yield
    except ConfigError as err:
        if not words:
            raise
        raise ConfigError(scrub_path(err.key, words), scrub(err.problem, words)) from None


def main() -> None:
    # A stack registers thousands of small objects at once; CPython's default young-generation threshold
    # (700) would rescan the growing heap every few resources, a third of the run at 500 apps (BENCHMARKS.md).
    # A higher threshold keeps the same collections, fewer times; memory stays the same (measured).
    gc.set_threshold(10_000, 10, 10)
    # Registered in every run: removing a patched app from the stack runs its Service's restore hook.
    restore_hook()
    check_unknown_keys()
    secret_keys, words = secret_config_words()
    with no_secret_echo(words):
        _declare_stack(pulumi.Config(NAMESPACE), secret_keys)


def _declare_stack(config: pulumi.Config, secret_keys: set[str]) -> None:
    shared_agent = _object(config, "agent", dict, "an object of agent settings") or {}
    parse(AgentSettings, shared_agent, f"{NAMESPACE}:agent")
    has_ingress = config.get("ingress") is not None
    agent_secret = "agent" in secret_keys
    apps = read_apps(config, shared_agent, required=not has_ingress, secret=agent_secret or "apps" in secret_keys)
    secret_spec, key_id, secret_key = read_secret_spec(config)
    site_secret = "site" in secret_keys
    ingress = read_ingress(config, shared_agent, apps, secret_spec.secret_name,
                           secret=agent_secret or "ingress" in secret_keys)
    if not apps and ingress is None:
        raise ConfigError(f"{NAMESPACE}:apps", "protects nothing: set sigsci:apps, sigsci:ingress, or both")

    existing = read_existing_namespaces(config)

    # Everything is valid: declare resources.
    namespaces = {app.spec.namespace for app in apps}
    if ingress is not None:
        namespaces.add(ingress.spec.namespace)
    # Namespaces first (then the Secret in each, then the pods that read it), so a fresh cluster works. The apps
    # depend on them directly too: with an existing Secret the SigsciSecret has no children to wait for.
    created: dict[str, pulumi.Resource] = {}
    for namespace in sorted(namespaces_to_create(apps, ingress, existing)):
        created[namespace] = k8s.core.v1.Namespace(f"namespace-{namespace}",
                                                   metadata=namespace_manifest(namespace)["metadata"])
    before_secret = list(created.values())
    secret = SigsciSecret("sigsci", {
        "namespaces": sorted(namespaces),
        "site": secret_spec.site,
        "existing_secret": secret_spec.existing_secret,
        "access_key_id": key_id,
        "secret_access_key": secret_key,
    }, opts=pulumi.ResourceOptions(depends_on=before_secret), _secret_site=site_secret)
    secret_name = mark(secret.secret_name, site_secret)

    def waits_for(namespace: str) -> list[pulumi.Resource]:
        """A workload waits for its namespace and the Secret in it: one or two dependencies, however many
        namespaces the stack has (a dependency on the whole SigsciSecret would be one per namespace)."""
        return [r for r in (created.get(namespace), secret.secrets.get(namespace)) if r is not None]

    exported = {}
    for app in apps:
        spec = app.spec
        component = SigsciRevProxyApp(
            f"{spec.name}.{spec.namespace}",
            {"name": spec.name, "secret_name": secret_name, "credentials_hash": secret.credentials_hash},
            opts=pulumi.ResourceOptions(depends_on=waits_for(spec.namespace)),
            _resolved=app,
        )
        exported[f"{spec.namespace}/{spec.name}"] = {
            "namespace": component.namespace,
            "placement": spec.placement,
            "service": component.service_name,
        }
    pulumi.export("secretName", pulumi.Output.secret(str(secret_name)) if site_secret else secret_name)
    pulumi.export("apps", exported)
    if ingress is not None:
        from .ingress import route_targets
        from .ingress_controller import SigsciIngressController

        controller = SigsciIngressController(
            "ingress",
            {"secret_name": secret_name, "credentials_hash": secret.credentials_hash},
            opts=pulumi.ResourceOptions(depends_on=waits_for(ingress.spec.namespace)),
            _resolved=ingress, _targets=route_targets(apps),
        )
        pulumi.export("ingress", {
            "namespace": controller.namespace,
            "releaseName": controller.release_name,
            "ingressClass": controller.ingress_class,
            "serviceName": controller.service_name,
            "loadBalancerAddress": controller.load_balancer_address,
        })
