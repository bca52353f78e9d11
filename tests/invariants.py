"""What must hold for every stack we emit, checked on the objects the mock engine captured.

`violations(run, config)` returns one sentence per broken invariant (an empty list when all hold), so a
failing fuzz example says exactly what broke. The checks read only the captured objects and the config,
never our builders, so a builder bug cannot hide itself.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any, Iterator

import harness
from harness import PLANTED_KEY_ID, PLANTED_SECRET, SECRET_MARKER, Run, clean, env_of, unwrap_secrets

AGENT = "sigsci-agent"
SECRET_FIELDS = {"accesskeyid", "secretaccesskey"}

# Kubernetes' own name rules (apimachinery validation), which the JSON schemas do not carry.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_LISTENER = re.compile(r"listener=http://0\.0\.0\.0:(\d+)")
_UPSTREAM = re.compile(r"upstreams=http://([^,}:]+):(\d+)")
_MODULE_HOST = re.compile(r"^sigsci_agent_host (.+);$")


def is_dns_label(name: Any) -> bool:
    return isinstance(name, str) and len(name) <= 63 and bool(_DNS_LABEL.fullmatch(name))


def is_dns_1035(name: Any) -> bool:
    return isinstance(name, str) and len(name) <= 63 and bool(_DNS_1035.fullmatch(name))


def is_dns_subdomain(name: Any) -> bool:
    """Kubernetes' IsDNS1123Subdomain: the whole name at most 253 (labels are not limited one by one)."""
    return isinstance(name, str) and len(name) <= 253 and bool(_DNS_SUBDOMAIN.fullmatch(name))


def is_qualified_name(key: Any) -> bool:
    """A label or annotation key: an optional DNS-subdomain prefix and '/', then a name of at most 63."""
    if not isinstance(key, str):
        return False
    prefix, slash, name = key.rpartition("/")  # Kubernetes: a '/' needs a non-empty prefix before it
    return (not slash or is_dns_subdomain(prefix)) and len(name) <= 63 and bool(_QUALIFIED.fullmatch(name))


def is_label_value(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 63 and bool(_LABEL_VALUE.fullmatch(value))


def is_port_name(name: Any) -> bool:
    """IANA_SVC_NAME: at most 15, lower case, a letter somewhere, no '--'."""
    return isinstance(name, str) and len(name) <= 15 and bool(_PORT_NAME.fullmatch(name)) \
        and "--" not in name and any(c.isalpha() for c in name)


def is_host(host: Any) -> bool:
    """An Ingress host: a DNS subdomain, optionally with one leading '*.' wildcard."""
    return isinstance(host, str) and is_dns_subdomain(host[2:] if host.startswith("*.") else host)


def ingress_path_problem(path: str, path_type: str) -> str | None:
    """Kubernetes' rules for Ingress paths of type Prefix and Exact (ImplementationSpecific: absolute only)."""
    if not path.startswith("/"):
        return "is not absolute"
    if path_type in ("Prefix", "Exact"):
        for bad in ("//", "/./", "/../", "%2f", "%2F"):
            if bad in path:
                return f"contains {bad!r}"
        for bad in ("/..", "/."):
            if path.endswith(bad):
                return f"ends with {bad!r}"
    return None


# -- credentials ---------------------------------------------------------------------------------------------

def plain_credentials(value: Any, path: str = "") -> list[str]:
    """Paths where a planted credential appears outside a secret wrapper."""
    return plain_text(value, (PLANTED_KEY_ID, PLANTED_SECRET), path)


def plain_text(value: Any, words: Any, path: str = "") -> list[str]:
    """Paths where any of `words` appears (in a key or a value) outside a secret wrapper."""
    found = []
    if isinstance(value, dict):
        if set(value) == {SECRET_MARKER}:
            return []
        for k, v in value.items():
            found += plain_text(k, words, f"{path}.<key>") + plain_text(v, words, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += plain_text(v, words, f"{path}[{i}]")
    elif isinstance(value, str) and any(word in value for word in words):
        found.append(path)
    return found


def _credential_problems(run: Run) -> list[str]:
    problems = [f"{r.type} {r.name}: a credential in plain text at {where}"
                for r in run.resources for where in plain_credentials(clean(r.inputs))]
    printed = json.dumps(clean(run.outputs), default=str) + "".join(run.warnings)
    if PLANTED_KEY_ID in printed or PLANTED_SECRET in printed:
        problems.append("a credential in plain text in the stack outputs or the preview warnings")
    return problems


# -- pods ----------------------------------------------------------------------------------------------------

def _apps(config: dict) -> list[dict]:
    apps = config.get("sigsci:apps") or []
    return [a for a in apps if isinstance(a, dict)] if isinstance(apps, list) else []


def _stand_in_app(config: dict, namespace: str, deployment: str) -> list[dict]:
    """The app container a patch lands next to: it listens on the app's configured port."""
    app = _app_for(config, namespace, deployment)
    if app is None or app.get("placement") != "patch":
        return []
    return [{"name": "app", "ports": [{"containerPort": app["port"]}]}]


def pods(run: Run, config: dict, chart_pods: list[tuple[str, dict]]) -> Iterator[tuple[str, str, str, dict, dict]]:
    """(where, namespace, Deployment name, pod labels, pod spec) for every pod the stack shapes."""
    for r in run.resources:
        if not r.is_object or not r.type.endswith(("apps/v1:Deployment", "apps/v1:DeploymentPatch")):
            continue
        obj = unwrap_secrets(clean(r.inputs))
        template = obj["spec"]["template"]
        spec = dict(template["spec"])
        namespace = obj["metadata"]["namespace"]
        if r.type.endswith("Patch"):
            spec["containers"] = _stand_in_app(config, namespace, obj["metadata"]["name"]) + spec["containers"]
        yield (f"{r.type} {r.name}", namespace, obj["metadata"]["name"],
               (template.get("metadata") or {}).get("labels", {}), spec)
    for release, pod in chart_pods:
        yield f"release {release}", pod["metadata"]["namespace"], pod["metadata"]["name"], {}, pod["spec"]


def _containers(spec: dict) -> list[dict]:
    return list(spec.get("initContainers", [])) + list(spec.get("containers", []))


def _container_ports(container: dict) -> set[int]:
    return {p["containerPort"] for p in container.get("ports", [])}


def _pod_problems(where: str, spec: dict) -> list[str]:
    problems = []
    volumes = [v["name"] for v in spec.get("volumes", [])]
    if len(set(volumes)) != len(volumes):
        problems.append(f"{where}: volume names repeat: {volumes}")
    for v in volumes:
        if not is_dns_label(v):
            problems.append(f"{where}: volume name {v!r} is not a DNS label")
    names = [c["name"] for c in _containers(spec)]
    if len(set(names)) != len(names):
        problems.append(f"{where}: container names repeat: {names}")
    seen_ports: dict[int, str] = {}
    for c in _containers(spec):
        if not is_dns_label(c["name"]):
            problems.append(f"{where}: container name {c['name']!r} is not a DNS label")
        mounts = c.get("volumeMounts", [])
        for m in mounts:
            if m["name"] not in volumes:
                problems.append(f"{where}: container {c['name']} mounts {m['name']!r}, not a volume of its pod")
        paths = [m["mountPath"] for m in mounts]
        if len(set(paths)) != len(paths):
            problems.append(f"{where}: container {c['name']} mounts twice at one path: {paths}")
        for p in c.get("ports", []):
            if "name" in p and not is_port_name(p["name"]):
                problems.append(f"{where}: port name {p['name']!r} is not an IANA service name")
            port = p["containerPort"]
            if port in seen_ports:
                problems.append(f"{where}: containers {seen_ports[port]} and {c['name']} both use port {port}")
            seen_ports[port] = c["name"]
    return problems


def _secret_problems(where: str, namespace: str, spec: dict, secrets: dict[tuple[str, str], set[str]],
                     existing: str | None) -> list[str]:
    problems = []
    for c in _containers(spec):
        for e in c.get("env", []):
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref is None:
                continue
            if ref["name"] == existing:
                if ref["key"] not in SECRET_FIELDS:
                    problems.append(f"{where}: reads key {ref['key']!r} the existing Secret is documented without")
            elif (namespace, ref["name"]) not in secrets:
                problems.append(f"{where}: {c['name']} reads Secret {namespace}/{ref['name']}, which the stack "
                                "does not create and is not sigsci:existingSecret")
            elif ref["key"] not in secrets[(namespace, ref["name"])]:
                problems.append(f"{where}: {c['name']} reads key {ref['key']!r} missing from Secret "
                                f"{namespace}/{ref['name']}")
    return problems


def _services(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["kind"] == "Service"]


def _matches(selector: dict, labels: dict) -> bool:
    """A label selector's matchLabels picks pods with these labels."""
    return all(labels.get(k) == v for k, v in selector.items())


def _selects(service: dict, namespace: str, labels: dict) -> bool:
    selector = service["spec"].get("selector")
    return service["metadata"]["namespace"] == namespace and bool(selector) and _matches(selector, labels)


def _app_for(config: dict, namespace: str, deployment: str) -> dict | None:
    """The app of sigsci:apps whose agent runs in (or is patched into) this Deployment."""
    for app in _apps(config):
        name = app.get("deployment") if app.get("placement") == "patch" else app.get("name")
        if name == deployment and app.get("namespace", "default") == namespace:
            return app
    return None


def _revproxy_problems(where: str, namespace: str, labels: dict, spec: dict, objects: list[dict],
                       config: dict, deployment: str) -> list[str]:
    """The agent listens where its Service points and proxies to the app's port."""
    agent = next((c for c in spec["containers"] if c["name"] == AGENT), None)
    if agent is None:
        return [f"{where}: no agent container"]
    listener = env_of(agent).get("SIGSCI_REVPROXY_LISTENER")
    if listener is None:
        return [f"{where}: the agent has no revproxy listener"]
    problems = []
    match, upstream = _LISTENER.search(listener), _UPSTREAM.search(listener)
    if not match or not upstream:
        return [f"{where}: cannot read the listener and upstream from {listener!r}"]
    port = int(match.group(1))
    if port not in _container_ports(agent):
        problems.append(f"{where}: the agent listens on {port}, not one of its containerPorts")
    app = _app_for(config, namespace, deployment)
    if app is None:
        return problems + [f"{where}: no app of sigsci:apps runs here"]
    if int(upstream.group(2)) != app["port"]:
        problems.append(f"{where}: the agent proxies to port {upstream.group(2)}, the app's port is {app['port']}")
    if app.get("placement", "owned") == "owned":
        app_container = next((c for c in spec["containers"] if c["name"] == app["name"]), None)
        if app_container is None or app["port"] not in _container_ports(app_container):
            problems.append(f"{where}: the app container does not expose port {app['port']}")
        if upstream.group(1) != "127.0.0.1":
            problems.append(f"{where}: the agent proxies to {upstream.group(1)}, not to its own pod")
    if app.get("placement") == "patch":
        services = [o for o in objects if o["kind"] == "ServicePatch" and o["metadata"]["namespace"] == namespace
                    and o["metadata"]["name"] == app["service"]]
    else:
        services = [s for s in _services(objects) if _selects(s, namespace, labels)]
    if not services:
        problems.append(f"{where}: no Service sends clients to the agent")
    # A named targetPort resolves, in each pod, to the container port of that name (Kubernetes' FindPort).
    names = {p.get("name"): p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])}
    for service in services:
        targets = {names.get(t) if isinstance(t, str) else t for t in (p.get("targetPort")
                                                                        for p in service["spec"]["ports"])}
        if targets != {port}:
            problems.append(f"{where}: Service {service['metadata']['name']} targets {sorted(map(str, targets))}, "
                            f"the agent listens on {port}")
    return problems


def _module_problems(run: Run, objects: list[dict], chart_pods: list[tuple[str, dict]]) -> list[str]:
    """The module's `sigsci_agent_host` is where the agent listens: the shared socket or the agents' Service."""
    problems = []
    pods_by_release = dict(chart_pods)
    for release in harness.ingress_releases(run):
        values = unwrap_secrets(clean(release.inputs))
        flavour = harness.release_flavour(values)
        config = values["values"]
        for part in flavour.config_path:
            config = config[part]
        host = _MODULE_HOST.fullmatch(config.get(flavour.http_snippet, ""))
        where = f"release {release.name}"
        if host is None:
            problems.append(f"{where}: no sigsci_agent_host in the http snippet")
            continue
        target = host.group(1)
        namespace = values["namespace"]
        if target.startswith("unix:"):
            socket = target[len("unix:"):]
            spec = pods_by_release[release.name]["spec"]
            agent = next((c for c in _containers(spec) if c["name"] == AGENT), None)
            if agent is None or env_of(agent).get("SIGSCI_RPC_ADDRESS") != socket:
                problems.append(f"{where}: the module dials {socket}, the agent's rpc-address is "
                                f"{agent and env_of(agent).get('SIGSCI_RPC_ADDRESS')}")
                continue
            directory = socket.rsplit("/", 1)[0]
            mounts = {c["name"]: {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
                      for c in _containers(spec)}
            if mounts.get("controller", {}).get(directory) is None \
                    or mounts["controller"][directory] != mounts[AGENT].get(directory):
                problems.append(f"{where}: the controller and the agent do not share {directory}")
        else:
            service_host, _, port = target.rpartition(":")
            name, _, rest = service_host.partition(".")
            service = next((s for s in _services(objects) if s["metadata"]["name"] == name
                            and s["metadata"]["namespace"] == namespace and rest == f"{namespace}.svc"), None)
            if service is None:
                problems.append(f"{where}: the module dials {target}, which is no Service of the stack")
                continue
            ports = [p for p in service["spec"]["ports"] if str(p["port"]) == port]
            if not ports:
                problems.append(f"{where}: Service {name} has no port {port}")
                continue
            target_port = ports[0]["targetPort"]
            for deployment in objects:
                if deployment["kind"] == "Deployment" and deployment["metadata"]["namespace"] == namespace \
                        and _selects(service, namespace, deployment["spec"]["template"]["metadata"]["labels"]):
                    agent = deployment["spec"]["template"]["spec"]["containers"][0]
                    if env_of(agent).get("SIGSCI_RPC_ADDRESS") != f"0.0.0.0:{target_port}" \
                            or target_port not in _container_ports(agent):
                        problems.append(f"{where}: Service {name} targets {target_port}, the agent's rpc-address "
                                        f"is {env_of(agent).get('SIGSCI_RPC_ADDRESS')}")
    return problems


# -- names and labels ----------------------------------------------------------------------------------------

_NAME_RULES = {"Service": (is_dns_1035, "a DNS-1035 label"), "ServicePatch": (is_dns_1035, "a DNS-1035 label"),
               "Namespace": (is_dns_label, "a DNS label")}


def _metadata_problems(obj: dict) -> list[str]:
    meta = obj["metadata"]
    kind = obj["kind"]
    check, what = _NAME_RULES.get(kind, (is_dns_subdomain, "a DNS subdomain"))
    where = f"{kind} {meta.get('namespace', '')}/{meta['name']}"
    problems = [] if check(meta["name"]) else [f"{where}: name is not {what}"]
    if "namespace" in meta and not is_dns_label(meta["namespace"]):
        problems.append(f"{where}: namespace is not a DNS label")
    problems += _label_problems(where, meta.get("labels", {}), meta.get("annotations", {}))
    return problems


def _label_problems(where: str, labels: dict, annotations: dict) -> list[str]:
    problems = [f"{where}: label {k}={v!r} is not valid" for k, v in labels.items()
                if not is_qualified_name(k) or not is_label_value(v)]
    problems += [f"{where}: annotation key {k!r} is not valid" for k in annotations if not is_qualified_name(k)]
    return problems


def _shape_problems(obj: dict) -> list[str]:
    """Names inside specs: selectors, Ingress rules and backends."""
    kind, where = obj["kind"], f"{obj['kind']} {obj['metadata']['name']}"
    problems = []
    if kind == "Deployment":
        template = obj["spec"]["template"]["metadata"]
        problems += _label_problems(f"{where} pod template", template.get("labels", {}),
                                    template.get("annotations", {}))
        if not _matches(obj["spec"]["selector"]["matchLabels"], template.get("labels", {})):
            problems.append(f"{where}: the selector does not match the pod template's labels")
    if kind == "Service":
        problems += _label_problems(f"{where} selector", obj["spec"].get("selector", {}), {})
        for p in obj["spec"]["ports"]:
            if "name" in p and not is_port_name(p["name"]):
                problems.append(f"{where}: port name {p['name']!r} is not an IANA service name")
    if kind == "Ingress":
        for rule in obj["spec"]["rules"]:
            if "host" in rule and not is_host(rule["host"]):
                problems.append(f"{where}: host {rule['host']!r} is not a DNS subdomain")
            for path in rule["http"]["paths"]:
                problem = ingress_path_problem(path["path"], path["pathType"])
                if problem:
                    problems.append(f"{where}: path {path['path']!r} {problem}")
                if not is_dns_1035(path["backend"]["service"]["name"]):
                    problems.append(f"{where}: backend {path['backend']['service']['name']!r} is no Service name")
        for tls in obj["spec"].get("tls", []):
            if not is_dns_subdomain(tls["secretName"]):
                problems.append(f"{where}: TLS Secret {tls['secretName']!r} is no Secret name")
    return problems


def _release_problems(run: Run) -> list[str]:
    problems = []
    for release in harness.ingress_releases(run):
        inputs = clean(release.inputs)
        name = inputs["name"]
        if len(name) > 53 or not is_dns_1035(name):
            problems.append(f"release {name!r}: not a release name the charts can name objects after "
                            "(a DNS-1035 label of at most 53 characters)")
        if not is_dns_label(inputs["namespace"]):
            problems.append(f"release {name}: namespace {inputs['namespace']!r} is not a DNS label")
    return problems


# -- one object, one owner ----------------------------------------------------------------------------------

def _collision_problems(run: Run, objects: list[dict]) -> list[str]:
    """No two objects share a kind, namespace and name (a patch counts as its object), and every selector of
    ours picks the pods of its own Deployment only, never an app's, an agent's or the controller's."""
    registered = Counter((r.type, r.name) for r in run.resources)
    problems = [f"resource {typ} {name} is registered twice (a duplicate URN)"
                for (typ, name), count in sorted(registered.items()) if count > 1]
    seen: set[tuple[str, str, str]] = set()
    for o in objects:
        key = (o["kind"].removesuffix("Patch"), o["metadata"].get("namespace", ""), o["metadata"]["name"])
        if key in seen:
            problems.append(f"{key[0]} {key[1]}/{key[2]} is declared twice")
        seen.add(key)
    pods = [(o["metadata"]["namespace"], o["metadata"]["name"], o["spec"]["template"]["metadata"]["labels"])
            for o in objects if o["kind"] == "Deployment"]
    for release in harness.ingress_releases(run):
        inputs = clean(release.inputs)
        pods.append((inputs["namespace"], f"release {inputs['name']}", {
            "app.kubernetes.io/name": harness.release_flavour(inputs).chart,
            "app.kubernetes.io/instance": inputs["name"]}))
    for o in objects:
        selector = {"Service": lambda o: o["spec"].get("selector"),
                    "Deployment": lambda o: o["spec"]["selector"]["matchLabels"],
                    "NetworkPolicy": lambda o: o["spec"]["podSelector"]["matchLabels"]}.get(o["kind"], lambda o: None)(o)
        if not selector:
            continue
        namespace, name = o["metadata"]["namespace"], o["metadata"]["name"]
        matched = {owner for ns, owner, labels in pods if ns == namespace and _matches(selector, labels)}
        if matched - {name}:
            problems.append(f"{o['kind']} {namespace}/{name} also selects the pods of {sorted(matched - {name})}")
    return problems


# -- all of them ---------------------------------------------------------------------------------------------

def objects_of(run: Run) -> list[dict]:
    """Every declared object, secrets unwrapped, with patches told apart by kind (`DeploymentPatch`)."""
    result = []
    for r in run.resources:
        if r.is_object:
            obj = unwrap_secrets(clean(r.inputs))
            if r.type.endswith("Patch"):
                obj = {**obj, "kind": obj["kind"] + "Patch"}
            result.append(obj)
    return result


def violations(run: Run, config: dict) -> list[str]:
    objects = objects_of(run)
    secrets = {(o["metadata"]["namespace"], o["metadata"]["name"]): set(o.get("stringData", {}))
               for o in objects if o["kind"] == "Secret"}
    existing = config.get("sigsci:existingSecret")
    if "sigsci:existingSecret" in config and not isinstance(existing, str):
        existing = json.dumps(existing)  # what the program reads: the engine hands scalars over as text
    chart_pods = harness.chart_pods(run, with_controller=True)
    problems = _credential_problems(run) + _release_problems(run) + _module_problems(run, objects, chart_pods)
    problems += _collision_problems(run, objects)
    for obj in objects:
        problems += _metadata_problems(obj) + _shape_problems(obj)
    for where, namespace, deployment, labels, spec in pods(run, config, chart_pods):
        problems += _pod_problems(where, spec)
        problems += _secret_problems(where, namespace, spec, secrets, existing)
        agent = next((c for c in spec["containers"] if c["name"] == AGENT), None)
        if agent is not None and "SIGSCI_REVPROXY_LISTENER" in env_of(agent):
            problems += _revproxy_problems(where, namespace, labels, spec, objects, config, deployment)
    return problems
