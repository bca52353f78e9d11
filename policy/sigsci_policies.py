"""The checks behind the policy pack, as plain functions of resource types and properties.

Each `validate_*` takes the arguments CrossGuard passes (`args`, `report_violation`), so the pack
and the tests call the very same code. Properties are first copied to plain dicts and lists
(`_plain`): CrossGuard hands over proxies that raise on values unknown during a preview, and numbers
as floats.

What counts as an agent: a container named `sigsci-agent` or running an image whose repository ends in
`sigsci-agent` (any registry, tag or digest), in `containers`, `initContainers` or `ephemeralContainers`
of any pod template, or anywhere in a Helm release's values.

A namespace the pack cannot know (no `metadata.namespace` and no namespace on the resource's provider:
the kubeconfig context decides) matches every namespace in the bypass checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

AGENT = "sigsci-agent"
CREDENTIAL_ENV = ("SIGSCI_ACCESSKEYID", "SIGSCI_SECRETACCESSKEY")
# The agent's default rpc-address: the socket in its default temp volume.
DEFAULT_RPC_ADDRESS = "/sigsci/tmp/sigsci.sock"
MODULE_FILE = "ngx_http_sigsci_module.so"
RELEASE = "kubernetes:helm.sh/v3:Release"
RELEASES = {RELEASE, "kubernetes:helm.sh/v4:Chart"}
SERVICE = "kubernetes:core/v1:Service"
SERVICE_PATCH = "kubernetes:core/v1:ServicePatch"
# Where each workload kind keeps its pod template.
_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "PodTemplate": ("template",),
}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
# Digests a container runtime accepts: a registered algorithm and its lower-case hex encoding.
_DIGEST = re.compile(r"^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
# `--accesskeyid=X`, `-secretaccesskey X` (the agent's flags) and `SIGSCI_ACCESSKEYID=X` (a shell line).
_CREDENTIAL_FLAG = re.compile(r"(?i)(?:^|[\s'\";])-{1,2}(accesskeyid|secretaccesskey)(?:=|\s+)(\S+)")
_CREDENTIAL_ASSIGNMENT = re.compile(r"\b(SIGSCI_(?:ACCESSKEYID|SECRETACCESSKEY))=(\S+)")
_LOAD_MODULE = re.compile(r"\bload_module\s+(\S+?)\s*;")
_AGENT_HOST = re.compile(r"\bsigsci_agent_host\s+(\S+?)\s*;")

# The two ingress charts: where each keeps the module's snippets, the controller's mounts and its class.
_LAYOUTS: dict[str, dict[str, Any]] = {
    "ingress-nginx": {"config": ("controller", "config"), "main": "main-snippet", "http": "http-snippet",
                      "mounts": "extraVolumeMounts"},
    "nginx-ingress": {"config": ("controller", "config", "entries"), "main": "main-snippets",
                      "http": "http-snippets", "mounts": "volumeMounts"},
}
# Both charts' default class name when the values do not set one.
_DEFAULT_CLASS = "nginx"

Report = Callable[..., None]


class _Unknown:
    """A value computed during the update, unknown during a preview (a Secret's generated name, a hash)."""

    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN = _Unknown()


# -- plain data ----------------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """Proxies to plain dicts and lists; a value unknown during preview becomes UNKNOWN; 8080.0 becomes 8080."""
    if isinstance(value, Mapping):
        result = {}
        for key in list(value):
            result[key] = _plain(_item(value, key))
        return result
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, Sequence):
        return [_plain(_item(value, i)) for i in range(len(value))]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _item(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except Exception as error:  # pulumi_policy's UnknownValueError: the value is computed during the update
        if type(error).__name__ == "UnknownValueError":
            return UNKNOWN
        raise


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _list(value: Any) -> list:
    return [v for v in value if v is not None] if isinstance(value, list) else []


def _maps(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in _list(value) if isinstance(v, Mapping)]


def _kind(resource_type: str) -> tuple[str, bool]:
    """`kubernetes:apps/v1:DeploymentPatch` -> ("Deployment", True)."""
    if not resource_type.startswith("kubernetes:"):
        return "", False
    kind = resource_type.rsplit(":", 1)[-1]
    if kind.endswith("Patch"):
        return kind[:-len("Patch")], True
    return kind, False


def _namespace(props: Mapping[str, Any], provider: Any = None, path: tuple[str, ...] = ("metadata", "namespace")
               ) -> str | None:
    """The object's namespace; else its provider's; else None (the kubeconfig context's: unknown here)."""
    namespace = _get(props, *path)
    if isinstance(namespace, str) and namespace:
        return namespace
    provider_namespace = _get(_plain(getattr(provider, "props", None)), "namespace")
    if isinstance(provider_namespace, str) and provider_namespace:
        return provider_namespace
    return None


def _same_namespace(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def _ns(namespace: str | None) -> str:
    return namespace if namespace is not None else "<namespace unknown>"


def _who(name: str, resource_type: str, props: Mapping[str, Any], namespace: str | None = None) -> str:
    """How messages name a resource: its Pulumi name and the object it declares."""
    if resource_type in RELEASES:
        release = props.get("name") or name
        what = "Helm release" if resource_type == RELEASE else "Helm chart"
        return f"{name} ({what} {_ns(namespace or _namespace(props, path=('namespace',)))}/{release})"
    kind, patch = _kind(resource_type)
    object_name = _get(props, "metadata", "name")
    if not kind or not object_name:
        return name
    namespace = namespace or _get(props, "metadata", "namespace")
    return f"{name} ({kind}{'Patch' if patch else ''} {_ns(namespace)}/{object_name})"


# -- images --------------------------------------------------------------------------------------------------

def _image_text(image: Any) -> str:
    """An image reference from a string, or from a Helm-style map {registry, repository|image, tag, digest}."""
    if isinstance(image, str):
        return image
    if not isinstance(image, Mapping):
        return ""
    repository = image.get("repository") or image.get("image") or image.get("name") or ""
    registry = image.get("registry")
    if isinstance(registry, str) and registry and isinstance(repository, str) and repository \
            and not repository.startswith(registry + "/"):
        repository = f"{registry}/{repository}"
    text = str(repository)
    if image.get("tag"):
        text += f":{image['tag']}"
    if image.get("digest"):
        text += f"@{image['digest']}"
    return text


def _split_image(image: str) -> tuple[str, str | None, str | None]:
    """(repository with registry, tag or None, digest or None) of an image reference."""
    reference, at, digest = image.partition("@")
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = reference.rsplit(":", 1)
        return repository, tag, digest if at else None
    return reference, None, digest if at else None


def is_agent_image(image: Any) -> bool:
    return _split_image(_image_text(image))[0].lower().endswith(AGENT)


def is_fastly_controller_image(image: Any) -> bool:
    """The Fastly builds of both controllers: sigsci-nginx-ingress-controller(-chainguard), sigsci-nginxinc-..."""
    return "sigsci-nginx" in _split_image(_image_text(image))[0].lower()


def is_agent(container: Any) -> bool:
    return isinstance(container, Mapping) and (container.get("name") == AGENT or is_agent_image(container.get("image")))


def _bad_digest(image: str) -> str | None:
    """The digest part of a reference that no runtime accepts, else None."""
    if "@" not in image:
        return None
    digest = image.split("@", 1)[1]
    return None if _DIGEST.match(digest) else digest


# -- pods and containers -------------------------------------------------------------------------------------

@dataclass
class _Pod:
    labels: Mapping[str, Any] | None  # None: the pod template's labels are not in the resource
    spec: Mapping[str, Any]


def _pods(resource_type: str, props: Mapping[str, Any]) -> list[_Pod]:
    """The pod templates a Kubernetes resource declares (a Pod is its own template; *List kinds hold items)."""
    kind, _ = _kind(resource_type)
    return _pods_of_kind(kind, props)


def _pods_of_kind(kind: str, props: Mapping[str, Any]) -> list[_Pod]:
    if kind.endswith("List"):
        return [pod for item in _maps(props.get("items")) for pod in _pods_of_kind(kind[:-len("List")], item)]
    if kind == "Pod":
        template: Any = props
    elif kind in _TEMPLATE_PATHS:
        template = _get(props, *_TEMPLATE_PATHS[kind])
    else:
        return []
    if not isinstance(template, Mapping):
        return []
    labels = _get(template, "metadata", "labels")
    spec = template.get("spec")
    return [_Pod(labels if isinstance(labels, Mapping) and labels else None,
                 spec if isinstance(spec, Mapping) else {})]


def _pod_containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for key in _CONTAINER_LISTS for c in _maps(spec.get(key))]


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every value in a tree with its path, e.g. `values.controller.extraContainers[0]`."""
    yield path, value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _looks_like_container(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("name"), str) \
        and any(key in value for key in ("image", "env", "envFrom", "args", "command"))


def _containers(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(where, container) for every container a resource runs: in its pod templates, or in a Helm release's
    values (any list item that looks like a container: the charts' extraContainers, initContainers, ...)."""
    if resource_type in RELEASES:
        return [(path, v) for path, v in _walk(props.get("values"), "values")
                if path.endswith("]") and _looks_like_container(v)]
    return [(f"container {c.get('name')!r}", c) for pod in _pods(resource_type, props)
            for c in _pod_containers(pod.spec)]


def agent_containers(resource_type: str, props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The agent containers a resource runs: in a pod template, or handed to a chart."""
    return [c for _, c in _containers(resource_type, _plain(props)) if is_agent(c)]


def _env(container: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {e.get("name"): e for e in _maps(container.get("env"))}


def _env_value(container: Mapping[str, Any], name: str) -> str | None:
    value = _get(_env(container), name, "value")
    return value if isinstance(value, str) else None


def _has_secret_env_from(container: Mapping[str, Any]) -> bool:
    return any(_get(source, "secretRef", "name") for source in _maps(container.get("envFrom")))


def _from_secret(entry: Mapping[str, Any]) -> bool:
    """An env entry read from a Secret (its name may be unknown during preview: a Secret the stack creates)."""
    return bool(_get(entry, "valueFrom", "secretKeyRef", "name"))


def _literal(value: str) -> bool:
    """A command-line value that is the key itself, not `$(VAR)`/`$VAR` that Kubernetes or a shell expands."""
    value = value.strip("'\"")
    return bool(value) and not value.startswith("$") and not value.startswith("-")


def _credentials_in_command(container: Mapping[str, Any]) -> list[str]:
    words = [str(w) for key in ("command", "args") for w in _list(container.get(key))]
    text = " ".join(words)
    found = [f"--{m.group(1).lower()}" for m in _CREDENTIAL_FLAG.finditer(text) if _literal(m.group(2))]
    found += [m.group(1) for m in _CREDENTIAL_ASSIGNMENT.finditer(text) if _literal(m.group(2))]
    return list(dict.fromkeys(found))


# -- the revproxy listener -----------------------------------------------------------------------------------

@dataclass
class _Listener:
    port: int | None
    upstreams: list[str]


def _listeners(value: Any) -> list[_Listener]:
    """SIGSCI_REVPROXY_LISTENER: `name:{listener=http://0.0.0.0:8001,upstreams=http://a:1,http://b:1,...}; ...`."""
    if not isinstance(value, str):
        return []
    blocks = re.findall(r"\{([^}]*)\}", value) or [value]
    result = []
    for block in blocks:
        port, upstreams, current = None, [], None
        for part in (p.strip() for p in block.split(",")):
            option = re.match(r"([A-Za-z][\w-]*)=(.*)$", part)
            if option and not re.match(r"[a-z]+://", part):
                current, text = option.group(1), option.group(2).strip("'\"")
                if current == "listener":
                    port = _url_port(text)
                elif current == "upstreams" and text:
                    upstreams.append(text)
            elif current == "upstreams" and part:
                upstreams.append(part.strip("'\""))
        result.append(_Listener(port, upstreams))
    return result


def _url_port(url: str) -> int | None:
    try:
        parts = urlsplit(url)
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None


def _upstream_service(url: str, namespace: str | None) -> tuple[str | None, str] | None:
    """(namespace, Service) an in-cluster upstream URL names (`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    if not host or host in _LOCAL_HOSTS or re.fullmatch(r"[\d.]+|[0-9a-f:]+", host):
        return None
    parts = host.split(".")
    if len(parts) == 1:
        return namespace, parts[0]
    if len(parts) == 2 or parts[2] == "svc":
        return parts[1], parts[0]
    return None


def _local_ports(upstreams: Iterable[str]) -> set[int]:
    ports = set()
    for url in upstreams:
        try:
            host = urlsplit(url).hostname
        except ValueError:
            continue
        port = _url_port(url)
        if host in _LOCAL_HOSTS and port is not None:
            ports.add(port)
    return ports


# -- policy: agent hardened ----------------------------------------------------------------------------------

def validate_agent_hardened(args, report_violation: Report) -> None:
    """Agent containers keep a read-only root filesystem and read their keys from a Secret; no container, env
    list or ConfigMap of any workload kind or Helm release carries the agent's keys as literal values."""
    props = _plain(args.props)
    who = _who(args.name, args.resource_type, props)
    kind, _ = _kind(args.resource_type)
    if kind == "ConfigMap":
        for key in sorted(set(props.get("data") or {}) | set(props.get("binaryData") or {})):
            if str(key).upper() in CREDENTIAL_ENV or str(key).lower() in ("accesskeyid", "secretaccesskey"):
                report_violation(f"{who}: ConfigMap key {key!r} holds an agent key in plain text; put the agent "
                                 "keys in a Secret (keys accesskeyid, secretaccesskey) and reference it")
        return
    seen_env: set[int] = set()
    for where, container in _containers(args.resource_type, props):
        env = _env(container)
        seen_env.update(id(e) for e in env.values())
        if is_agent(container):
            if _get(container, "securityContext", "readOnlyRootFilesystem") is not True:
                report_violation(f"{who}: the {AGENT} container ({where}) must run with securityContext."
                                 "readOnlyRootFilesystem: true (its writable data belongs in the sigsci-tmp volume)")
            for name in CREDENTIAL_ENV:
                entry = env.get(name)
                if entry is None and _has_secret_env_from(container):
                    continue
                if entry is not None and ("value" in entry or _from_secret(entry)):
                    continue  # a literal is reported below; a secretKeyRef is what we want
                source = "is not set" if entry is None else "comes from something other than a Secret"
                report_violation(f"{who}: {AGENT} ({where}) must take {name} from a Secret "
                                 f"(valueFrom.secretKeyRef or envFrom.secretRef); it {source}")
        for name in CREDENTIAL_ENV:
            if name in env and "value" in env[name]:
                report_violation(f"{who}: {where} sets {name} as a literal env value; never put the agent keys "
                                 "in a manifest: take it from a Secret (valueFrom.secretKeyRef or envFrom.secretRef)")
        for flag in _credentials_in_command(container):
            report_violation(f"{who}: {where} passes an agent key ({flag}) as a literal in its command/args; "
                             "take SIGSCI_ACCESSKEYID/SIGSCI_SECRETACCESSKEY from a Secret instead")
    # Env lists outside containers (ingress-nginx controller.extraEnvs, F5 controller.env, ...).
    if args.resource_type in RELEASES or _pods(args.resource_type, props):
        for path, value in _walk(props, ""):
            if isinstance(value, Mapping) and value.get("name") in CREDENTIAL_ENV and "value" in value \
                    and id(value) not in seen_env:
                report_violation(f"{who}: {path} sets {value['name']} as a literal env value; take it from a "
                                 "Secret (valueFrom.secretKeyRef or envFrom.secretRef)")


# -- policy: pinned versions ---------------------------------------------------------------------------------

def _unpinned(image: str) -> bool:
    if "@" in image:
        return False
    _, tag, _ = _split_image(image)
    return tag is None or tag == "latest"


def validate_pinned_versions(args, report_violation: Report) -> None:
    """No `latest` (or untagged) agent or controller image where the stack must pin versions."""
    if not (args.get_config() or {}).get("requirePinnedVersions", True):
        return
    props = _plain(args.props)
    who = _who(args.name, args.resource_type, props)
    for where, container in _containers(args.resource_type, props):
        if not is_agent(container):
            continue
        image = _image_text(container.get("image"))
        if _unpinned(image):
            report_violation(f"{who}: agent image {image!r} ({where}) is not pinned; set agent.version to a "
                             "release (e.g. 4.70.0) or agent.digest")
    if args.resource_type in RELEASES:
        image = _get(props, "values", "controller", "image") or {}
        if isinstance(image, Mapping) and image.get("tag") == "latest" and not image.get("digest"):
            report_violation(f"{who}: controller image tag 'latest' is not pinned; set "
                             "controller.image.tag to a release or controller.image.digest")


# -- policy: image digests -----------------------------------------------------------------------------------

def validate_image_digests(args, report_violation: Report) -> None:
    """Agent and Fastly controller images carry a well-formed digest, if any (`sha256:` + 64 lower-case hex)."""
    props = _plain(args.props)
    who = _who(args.name, args.resource_type, props)
    fix = "a digest is sha256: followed by exactly 64 lower-case hex digits (or sha384/sha512 with 96/128)"
    for where, container in _containers(args.resource_type, props):
        image = _image_text(container.get("image"))
        if not (is_agent(container) or is_fastly_controller_image(image)):
            continue
        digest = _bad_digest(image)
        if digest is not None:
            report_violation(f"{who}: image {image!r} ({where}) has a malformed digest {digest!r}, so it never "
                             f"pulls; {fix}")
    if args.resource_type not in RELEASES:
        return
    image = _get(props, "values", "controller", "image")
    if not isinstance(image, Mapping):
        return
    for key in ("digest", "digestChroot"):
        value = image.get(key)
        if value not in (None, "", UNKNOWN) and not (isinstance(value, str) and _DIGEST.match(value)):
            report_violation(f"{who}: values.controller.image.{key} {value!r} is malformed, so the controller "
                             f"never pulls; {fix}, or \"\" for none")
    for key in ("repository", "image", "tag"):
        value = image.get(key)
        if isinstance(value, str) and "@" in value and _bad_digest(value) is not None:
            report_violation(f"{who}: values.controller.image.{key} {value!r} has a malformed digest; {fix}")
    if _layout(props) == "ingress-nginx" and is_fastly_controller_image(image):
        # The chart's own digest would pin the stock controller under the Fastly repository and tag.
        missing = ["digest"] + (["digestChroot"] if image.get("chroot") else [])
        for key in missing:
            if key not in image:
                report_violation(f"{who}: values.controller.image.{key} is not set, so the ingress-nginx chart "
                                 "appends its default digest (of the stock controller) to the Fastly image and the "
                                 f"pod never pulls; set controller.image.{key}: \"\" (or the Fastly image's digest)")


# -- policy: the controller's module -------------------------------------------------------------------------

def _chart_name(props: Mapping[str, Any]) -> str:
    chart = props.get("chart")
    return str(chart).rstrip("/").rsplit("/", 1)[-1].lower() if isinstance(chart, str) else ""


def _layout(props: Mapping[str, Any]) -> str | None:
    """Which chart's values layout a release uses: by chart name, else by the Fastly image it runs."""
    chart = _chart_name(props)
    if "ingress-nginx" in chart:
        return "ingress-nginx"
    if "nginx-ingress" in chart:
        return "nginx-ingress"
    repository = _split_image(_image_text(_get(props, "values", "controller", "image")))[0].lower()
    if "sigsci-nginxinc" in repository:
        return "nginx-ingress"
    if "sigsci-nginx" in repository:
        return "ingress-nginx"
    return None


def _is_waf_controller(props: Mapping[str, Any]) -> bool:
    """A release that runs the Fastly controller image, or an ingress chart handed an agent to serve a module."""
    if is_fastly_controller_image(_get(props, "values", "controller", "image")):
        return True
    return _layout(props) is not None and any(
        is_agent(c) and not _env_value(c, "SIGSCI_REVPROXY_LISTENER")
        for _, c in _containers(RELEASE, props))


def _directives(snippet: Any, pattern: re.Pattern) -> list[str]:
    """The arguments of every uncommented directive matching `pattern` in an nginx snippet."""
    if not isinstance(snippet, str):
        return []
    return [m.group(1) for line in snippet.splitlines() for m in pattern.finditer(line.split("#", 1)[0])]


def _rpc_address(container: Mapping[str, Any]) -> str | None:
    """Where an agent listens for a module (None when set from something the pack cannot read)."""
    entry = _env(container).get("SIGSCI_RPC_ADDRESS")
    if entry is None:
        words = " ".join(str(w) for key in ("command", "args") for w in _list(container.get(key)))
        flag = re.search(r"-{1,2}rpc-address(?:=|\s+)(\S+)", words)
        return flag.group(1).strip("'\"") if flag else DEFAULT_RPC_ADDRESS
    value = entry.get("value")
    return value if isinstance(value, str) else None


def _mount_for(path: str, mounts: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The mount whose directory holds `path` (the deepest one)."""
    best = None
    for mount in mounts:
        root = str(mount.get("mountPath") or "").rstrip("/")
        if root and path.startswith(root + "/") and (best is None or len(root) > len(best["mountPath"].rstrip("/"))):
            best = mount
    return best


def validate_controller_module(args, report_violation: Report) -> None:
    """A release of a Fastly controller (or of an ingress chart carrying an agent) keeps the module loaded,
    pointed at the agent's socket, in the ConfigMap the chart renders, and reads no other config."""
    if args.resource_type not in RELEASES:
        return
    props = _plain(args.props)
    if not _is_waf_controller(props):
        return
    who = _who(args.name, args.resource_type, props)
    values = props.get("values") or {}
    controller = values.get("controller") or {}
    layout_name = _layout(props) or "ingress-nginx"
    layout = _LAYOUTS[layout_name]
    config_path = ".".join(layout["config"])
    image = _get(values, "controller", "image")
    agents = [c for _, c in _containers(args.resource_type, props) if is_agent(c)]
    rpc_agents = [c for c in agents if not _env_value(c, "SIGSCI_REVPROXY_LISTENER")]

    if not is_fastly_controller_image(image):
        shown = _image_text(image) or f"the {layout_name} chart's default"
        report_violation(f"{who}: carries a {AGENT} for a module, but the controller image ({shown}) is not a "
                         "Fastly build (signalsciences/sigsci-nginx-ingress-controller or "
                         "sigsci-nginxinc-ingress-controller), so nothing is inspected; set controller.image")
        return

    config = _get(values, *layout["config"])
    config = config if isinstance(config, Mapping) else {}
    modules = [m for m in _directives(config.get(layout["main"]), _LOAD_MODULE) if m.endswith(MODULE_FILE)]
    if not modules and config.get(layout["main"]) is not UNKNOWN:
        report_violation(f"{who}: values.{config_path}[{layout['main']!r}] has no `load_module "
                         f"/usr/lib/nginx/modules/{MODULE_FILE};`: the controller runs without the WAF module and "
                         "inspects nothing; keep the module line in the main snippet")
    hosts = _directives(config.get(layout["http"]), _AGENT_HOST)
    if not hosts and config.get(layout["http"]) is not UNKNOWN:
        report_violation(f"{who}: values.{config_path}[{layout['http']!r}] has no `sigsci_agent_host ...;`: the "
                         "module cannot reach the agent and fails open (requests pass uninspected); keep the "
                         f"line, e.g. `sigsci_agent_host unix:{DEFAULT_RPC_ADDRESS};`")

    if layout_name == "ingress-nginx":
        redirects = {
            "controller.configMapNamespace": (controller.get("configMapNamespace"),
                                              lambda v: v and v != props.get("namespace")),
            "controller.extraArgs.configmap": (_get(controller, "extraArgs", "configmap"), bool),
            "controller.customTemplate.configMapName": (_get(controller, "customTemplate", "configMapName"), bool),
        }
    else:
        redirects = {"controller.customConfigMap": (controller.get("customConfigMap"), bool)}
    for key, (value, bad) in redirects.items():
        if value is not UNKNOWN and bad(value):
            report_violation(f"{who}: values.{key} = {value!r} makes the controller read another ConfigMap or "
                             f"template than the one carrying the module's snippets (values.{config_path}); the "
                             "module may not load; remove it and keep the snippets in the chart's own ConfigMap")

    for host in hosts:
        if not host.startswith("unix:"):
            continue
        socket = host[len("unix:"):]
        if not rpc_agents:
            why = ("its agent runs as a reverse proxy (SIGSCI_REVPROXY_LISTENER), which turns the RPC listener off"
                   if agents else f"no {AGENT} container in the controller pod listens there")
            report_violation(f"{who}: the module points at unix:{socket} but {why}; the module fails open; run "
                             "the agent in the controller pod without a revproxy listener")
            continue
        addresses = [_rpc_address(c) for c in rpc_agents]
        if not any(a is None or a.removeprefix("unix:") == socket for a in addresses):
            shown = ", ".join(repr(a) for a in addresses)
            report_violation(f"{who}: sigsci_agent_host unix:{socket} does not match the agent's "
                             f"SIGSCI_RPC_ADDRESS ({shown}); the module cannot reach the agent and fails open; "
                             "move both together (the socket lives in the agent's temp volume)")
            continue
        agent = next(c for c, a in zip(rpc_agents, addresses) if a is None or a.removeprefix("unix:") == socket)
        agent_mount = _mount_for(socket, _maps(agent.get("volumeMounts")))
        controller_mounts = _maps(controller.get(layout["mounts"]))
        shared = agent_mount is not None and any(
            m.get("name") == agent_mount.get("name") and m.get("mountPath") == agent_mount.get("mountPath")
            for m in controller_mounts)
        if not shared:
            report_violation(f"{who}: the socket {socket} is not on a volume that both the agent and the "
                             f"controller mount at the same path (values.controller.{layout['mounts']}); the "
                             "module cannot reach the agent and fails open; mount the agent's temp volume in both")


# -- stack policies: what the stack protects -----------------------------------------------------------------

@dataclass(eq=False)
class _Resource:
    resource_type: str
    name: str
    urn: str | None
    props: Mapping[str, Any]
    namespace: str | None
    kind: str
    patch: bool

    @property
    def object_name(self) -> str | None:
        value = _get(self.props, "metadata", "name")
        return value if isinstance(value, str) else None

    @property
    def who(self) -> str:
        return _who(self.name, self.resource_type, self.props, self.namespace)


def _resources(args) -> list[_Resource]:
    result = []
    for r in args.resources:
        props = _plain(r.props)
        kind, patch = _kind(r.resource_type)
        path = ("namespace",) if r.resource_type in RELEASES else ("metadata", "namespace")
        result.append(_Resource(r.resource_type, r.name, getattr(r, "urn", None), props,
                                _namespace(props, getattr(r, "provider", None), path), kind, patch))
    return result


@dataclass(eq=False)
class _Protected:
    """A pod template whose agent proxies to an app in the same pod."""

    resource: _Resource
    labels: Mapping[str, Any] | None
    spec: Mapping[str, Any] | None  # None: the app's containers are not in the resource (a patch)
    app_ports: set[int]
    listener_ports: set[int]
    listener_names: set[str]

    @property
    def namespace(self) -> str | None:
        return self.resource.namespace


def _protected_pods(resources: Iterable[_Resource]) -> list[_Protected]:
    found = []
    for resource in resources:
        for pod in _pods(resource.resource_type, resource.props):
            for agent in (c for c in _pod_containers(pod.spec) if is_agent(c)):
                listeners = _listeners(_env_value(agent, "SIGSCI_REVPROXY_LISTENER"))
                app_ports = _local_ports(u for listener in listeners for u in listener.upstreams)
                if not app_ports:
                    continue
                listener_ports = {listener.port for listener in listeners if listener.port is not None}
                names = {str(p.get("name")) for p in _maps(agent.get("ports"))
                         if p.get("name") and p.get("containerPort") in listener_ports}
                found.append(_Protected(resource, pod.labels, None if resource.patch else pod.spec,
                                        app_ports, listener_ports, names))
    return found


def _selects(selector: Any, labels: Mapping[str, Any] | None) -> bool:
    return isinstance(selector, Mapping) and bool(selector) and labels is not None \
        and all(labels.get(k) == v for k, v in selector.items())


def _service_kind(resource: _Resource) -> bool:
    return resource.resource_type in (SERVICE, SERVICE_PATCH)


def _targets(port: Mapping[str, Any]) -> Any:
    target = port.get("targetPort")
    if isinstance(target, str) and target.isdigit():
        return int(target)
    return target


def _targets_listener(port: Mapping[str, Any], pod: _Protected) -> bool:
    target = _targets(port)
    return target in pod.listener_ports or target in pod.listener_names


def _protected_services(resources: list[_Resource], pods: list[_Protected]
                        ) -> list[tuple[_Resource, _Protected]]:
    """The Services clients use to reach protected pods: a Service (or ServicePatch) of the stack that sends a
    port to the agent's listener, selecting the pods where their labels are known, by namespace otherwise."""
    found = []
    for resource in resources:
        if not _service_kind(resource):
            continue
        selector = _get(resource.props, "spec", "selector")
        for pod in pods:
            if not _same_namespace(resource.namespace, pod.namespace):
                continue
            # A patched app's Service is one the stack patches (by name: the pods' labels are the owner's);
            # an app the stack declares is reached through the Services that select its pods.
            if not (_selects(selector, pod.labels) or (pod.resource.patch and resource.patch)):
                continue
            if any(_targets_listener(p, pod) for p in _maps(_get(resource.props, "spec", "ports"))):
                found.append((resource, pod))
    return found


def _named_port(spec: Mapping[str, Any], name: str) -> int | None:
    for container in _pod_containers(spec):
        if is_agent(container):
            continue
        for port in _maps(container.get("ports")):
            if port.get("name") == name:
                return port.get("containerPort")
    return None


# -- policy: no bypass Service -------------------------------------------------------------------------------

def validate_no_bypass(args, report_violation: Report) -> None:
    """No Service or ServicePatch sends traffic straight to an app port that an agent sits in front of: by
    selecting the protected pods, or by being (or patching) the protected Service itself."""
    resources = _resources(args)
    pods = _protected_pods(resources)
    protected = _protected_services(resources, pods)
    reported: set[tuple[int, int]] = set()
    for resource in resources:
        if not _service_kind(resource):
            continue
        selector = _get(resource.props, "spec", "selector")
        ports = _maps(_get(resource.props, "spec", "ports"))
        for pod in pods:
            if not _same_namespace(resource.namespace, pod.namespace):
                continue
            selected = pod.labels is not None and _selects(selector, pod.labels)
            guards = [s for s, p in protected if p is pod and s.object_name == resource.object_name
                      and _same_namespace(s.namespace, resource.namespace)]
            if not selected and not guards:
                continue
            guarded_ports = {p.get("port") for s in guards for p in _maps(_get(s.props, "spec", "ports"))
                             if _targets_listener(p, pod)}
            workload = pod.resource.who
            for index, port in enumerate(ports):
                target = _targets(port)
                if target is None:
                    if resource.patch and port.get("port") in guarded_ports:
                        continue  # the patch leaves the guarded port's targetPort to its owner
                    target = port.get("port")
                problem = None
                if isinstance(target, int) and target in pod.app_ports:
                    problem = f"targets the app's port {target} directly"
                elif isinstance(target, str) and target not in pod.listener_names:
                    if pod.spec is not None:
                        number = _named_port(pod.spec, target)
                        if number in pod.app_ports:
                            problem = f"targets the app's port {target!r} ({number}) directly"
                    elif guards:
                        problem = (f"targets the port named {target!r}, which is not the agent's listener "
                                   f"({', '.join(sorted(pod.listener_names)) or 'unnamed'}): the app's port")
                if problem and (id(resource), index) not in reported:
                    reported.add((id(resource), index))
                    listener = ", ".join(str(p) for p in sorted(pod.listener_ports))
                    report_violation(f"{resource.who}: Service port {port.get('port')} {problem}, around the WAF "
                                     f"agent of {workload} (it listens on {listener} and proxies to "
                                     f"{', '.join(str(p) for p in sorted(pod.app_ports))}); target the agent's "
                                     f"listener port {listener} instead", resource.urn)
            # Only a patch can change a protected Service's selector: a Service in the stack of the same name is
            # the stack's read of the live object (its owner's selector), which the pack checks for its ports.
            if guards and resource.patch and resource not in guards and isinstance(selector, Mapping) and selector \
                    and not (pod.labels is not None and _selects(selector, pod.labels)) \
                    and (id(resource), -1) not in reported:
                reported.add((id(resource), -1))
                report_violation(f"{resource.who}: sets the selector {dict(selector)} on the Service the WAF agent of "
                                 f"{workload} guards, so it may send traffic to pods without the agent, around the "
                                 "WAF agent; leave the protected Service's selector alone", resource.urn)
    _report_exposed_upstreams(resources, report_violation)


def _upstream_services(resources: Iterable[_Resource]) -> dict[tuple[str | None, str], _Resource]:
    """The in-cluster Services that agents (the `service` placement) proxy to, with the agent's workload."""
    found: dict[tuple[str | None, str], _Resource] = {}
    for resource in resources:
        for pod in _pods(resource.resource_type, resource.props):
            for agent in (c for c in _pod_containers(pod.spec) if is_agent(c)):
                for listener in _listeners(_env_value(agent, "SIGSCI_REVPROXY_LISTENER")):
                    for url in listener.upstreams:
                        service = _upstream_service(url, resource.namespace)
                        if service is not None:
                            found.setdefault(service, resource)
    return found


def _report_exposed_upstreams(resources: list[_Resource], report_violation: Report) -> None:
    upstreams = _upstream_services(resources)
    for resource in resources:
        if not _service_kind(resource):
            continue
        spec = resource.props.get("spec") or {}
        exposed = spec.get("type") in ("LoadBalancer", "NodePort") or bool(spec.get("externalIPs"))
        if not exposed:
            continue
        for (namespace, service), agents in upstreams.items():
            if service == resource.object_name and _same_namespace(namespace, resource.namespace):
                report_violation(f"{resource.who}: exposes {_ns(namespace)}/{service}, the upstream the WAF agents "
                                 f"of {agents.who} proxy to, outside the cluster (type {spec.get('type')}), around "
                                 "the WAF agent; keep the upstream ClusterIP and expose the agents' Service",
                                 resource.urn)


# -- policy: no unprotected pods behind a protected selector -------------------------------------------------

def validate_no_unprotected_pods(args, report_violation: Report) -> None:
    """No pod template without the agent carries the labels a protected Service or agent workload selects:
    the protected Service would send it a share of the traffic, uninspected."""
    resources = _resources(args)
    selectors: list[tuple[str | None, Mapping[str, Any], str]] = []
    agent_workloads: list[_Resource] = []
    for resource in resources:
        pods = _pods(resource.resource_type, resource.props)
        agent_pods = [pod for pod in pods if any(is_agent(c) for c in _pod_containers(pod.spec))]
        if not agent_pods:
            continue
        agent_workloads.append(resource)
        match = _get(resource.props, "spec", "selector", "matchLabels")
        if isinstance(match, Mapping) and match:
            selectors.append((resource.namespace, match, f"the selector of {resource.who}"))
        for pod in agent_pods:
            for service in resources:
                selector = _get(service.props, "spec", "selector")
                if _service_kind(service) and _same_namespace(service.namespace, resource.namespace) \
                        and _selects(selector, pod.labels):
                    selectors.append((service.namespace, selector, f"Service {service.who}"))
    for resource in resources:
        if resource in agent_workloads:
            continue
        if resource.patch and any(w.kind == resource.kind and w.object_name == resource.object_name
                                  and _same_namespace(w.namespace, resource.namespace) for w in agent_workloads):
            continue  # a patch of a workload that runs the agent: the merged pods keep it
        for pod in _pods(resource.resource_type, resource.props):
            if any(is_agent(c) for c in _pod_containers(pod.spec)):
                continue
            matches = [(selector, owner) for namespace, selector, owner in selectors
                       if _same_namespace(namespace, resource.namespace) and _selects(selector, pod.labels)]
            if matches:
                owners = "; ".join(dict.fromkeys(owner for _, owner in matches))
                report_violation(f"{resource.who}: its pods run no {AGENT} container but carry the labels "
                                 f"{dict(matches[0][0])} selected by {owners}: the protected Service sends them a "
                                 "share of the traffic, uninspected, around the WAF agent; give these pods labels "
                                 "of their own, or add the agent", resource.urn)


# -- policy: no bypass Ingress -------------------------------------------------------------------------------

@dataclass
class _WafClasses:
    names: set[str] = field(default_factory=set)
    default: bool = False


def _waf_classes(resources: Iterable[_Resource]) -> _WafClasses:
    """The IngressClass names the WAF controllers serve, and whether one of them is the cluster default."""
    classes = _WafClasses()
    for resource in resources:
        if resource.resource_type not in RELEASES or not _is_waf_controller(resource.props):
            continue
        controller = _get(resource.props, "values", "controller") or {}
        layout = _layout(resource.props)
        if layout in ("ingress-nginx", None):
            classes.names.add(str(_get(controller, "ingressClassResource", "name") or _DEFAULT_CLASS))
            classes.names.update(str(a) for a in _list(_get(controller, "ingressClassResource", "aliases")))
            if isinstance(controller.get("ingressClass"), str):
                classes.names.add(controller["ingressClass"])
            classes.default |= _get(controller, "ingressClassResource", "default") is True
        if layout in ("nginx-ingress", None):
            ingress_class = controller.get("ingressClass")
            name = ingress_class.get("name") if isinstance(ingress_class, Mapping) else None
            classes.names.add(str(name or _DEFAULT_CLASS))
            classes.default |= _get(controller, "ingressClass", "setAsDefaultIngress") is True
    return classes


def _ingress_class(resource: _Resource) -> str | None:
    name = _get(resource.props, "spec", "ingressClassName")
    if isinstance(name, str) and name:
        return name
    annotation = _get(resource.props, "metadata", "annotations", "kubernetes.io/ingress.class")
    return annotation if isinstance(annotation, str) and annotation else None


def _backends(resource: _Resource) -> list[tuple[str, str]]:
    """(Service, where) for every backend of an Ingress (networking.k8s.io/v1, and the v1beta1 shape)."""
    spec = resource.props.get("spec") or {}
    found = []

    def add(backend: Any, where: str) -> None:
        name = _get(backend, "service", "name") or _get(backend, "serviceName")
        if isinstance(name, str) and name:
            found.append((name, where))

    add(spec.get("defaultBackend") or spec.get("backend"), "the default backend")
    for rule in _maps(spec.get("rules")):
        for path in _maps(_get(rule, "http", "paths")):
            add(path.get("backend"), f"{rule.get('host') or '*'}{path.get('path') or ''}")
    return found


def validate_no_bypass_ingress(args, report_violation: Report) -> None:
    """No Ingress outside the WAF controller's class routes to a Service whose only inspection is the WAF:
    the upstream Service of agents placed as their own Service, or a Service the WAF controller routes to."""
    resources = _resources(args)
    classes = _waf_classes(resources)
    ingresses = [r for r in resources if r.kind == "Ingress"]

    def is_waf(cls: str | None) -> bool:
        return cls in classes.names if cls is not None else classes.default

    pods = _protected_pods(resources)
    fronted = {(s.namespace, s.object_name) for s, _ in _protected_services(resources, pods)}
    for resource in resources:  # Services in front of agent pods (the agents' own Services)
        if _service_kind(resource):
            selector = _get(resource.props, "spec", "selector")
            for workload in resources:
                if _same_namespace(workload.namespace, resource.namespace) and any(
                        _selects(selector, pod.labels) and any(is_agent(c) for c in _pod_containers(pod.spec))
                        for pod in _pods(workload.resource_type, workload.props)):
                    fronted.add((resource.namespace, resource.object_name))
    upstreams = _upstream_services(resources)
    waf_routes: dict[tuple[str | None, str], _Resource] = {}
    for ingress in ingresses:
        if not ingress.patch and is_waf(_ingress_class(ingress)):
            for service, _ in _backends(ingress):
                if not any(s == service and _same_namespace(ns, ingress.namespace) for ns, s in fronted):
                    waf_routes.setdefault((ingress.namespace, service), ingress)

    for ingress in ingresses:
        if UNKNOWN in (_get(ingress.props, "spec", "ingressClassName"),
                       _get(ingress.props, "metadata", "annotations", "kubernetes.io/ingress.class")):
            continue  # decided during the update, when the class is known
        cls = _ingress_class(ingress)
        original = None
        if ingress.patch:
            original = next((i for i in ingresses if not i.patch and i.object_name == ingress.object_name
                             and _same_namespace(i.namespace, ingress.namespace)), None)
            if cls is None and original is not None:
                cls = _ingress_class(original)
        if is_waf(cls):
            continue
        backends = _backends(ingress) + (_backends(original) if original is not None else [])
        shown_class = f"class {cls!r}" if cls else "no class"
        waf = ", ".join(repr(c) for c in sorted(classes.names)) or "none in this stack"
        done: set[str] = set()
        for service, where in backends:
            if service in done:
                continue
            reason = None
            for (namespace, upstream), agents in upstreams.items():
                if upstream == service and _same_namespace(namespace, ingress.namespace):
                    reason = (f"the upstream that the WAF agents of {agents.who} proxy to: requests reach the app "
                              "without passing the agents; route to the agents' Service instead")
                    break
            if reason is None:
                for (namespace, routed), route in waf_routes.items():
                    if routed == service and _same_namespace(namespace, ingress.namespace) and route is not original:
                        reason = (f"which the WAF controller inspects through {route.who}: this route skips the WAF "
                                  "controller")
                        break
                    if routed == service and route is original:
                        reason = f"moving {route.who} off the WAF controller's class"
                        break
            if reason is not None:
                done.add(service)
                report_violation(f"{ingress.who}: Ingress of {shown_class} (the WAF controller's: {waf}) sends "
                                 f"{where} straight to Service {_ns(ingress.namespace)}/{service}, {reason}; set "
                                 "ingressClassName to the WAF controller's class", ingress.urn)
