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

import gateway_docs
import harness
from harness import PLANTED_KEY_ID, PLANTED_SECRET, SECRET_MARKER, Run, clean, env_of, unwrap_secrets

AGENT = "sigsci-agent"
SECRET_FIELDS = {"accesskeyid", "secretaccesskey"}
CREDENTIALS = {"SIGSCI_ACCESSKEYID": "accesskeyid", "SIGSCI_SECRETACCESSKEY": "secretaccesskey"}
# What docs/configuration.md and docs/architecture.md say about placement module and injection.
RPC_ADDRESS_ENV = "SIGSCI_RPC_ADDRESS"  # rpcAddressEnv
DEFAULT_UID = 10001  # runAsUser
AGENT_PRE_STOP = 30  # agent.preStopSleepSeconds
SHUTDOWN_MARGIN = 15  # terminationGracePeriodSeconds: "the longest preStop sleep + 15"
INJECTION_LABEL = {"sigsci.fastly.com/agent": "module"}  # the label a pod asks for its agent with
PARAMS_NAMESPACE = "sigsci-injection"  # sigsci:injection.paramsNamespace

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
    """The app of sigsci:apps whose agent runs in (or is patched into) this Deployment: a patched app's or a
    module's existing `deployment`, else the one named after the app."""
    for app in _apps(config):
        name = app.get("deployment") if app.get("placement") in ("patch", "module") else None
        name = name or app.get("name")
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


def _agent_problems(where: str, spec: dict) -> list[str]:
    """Every agent, in any pod and wherever in it (a native sidecar is an init container), is hardened as
    docs/architecture.md says ("read-only root filesystem, non-root, no privilege escalation, all capabilities
    dropped, seccomp RuntimeDefault, requests and limits set"), reads its keys from a Secret, and, as an init
    container, is a native sidecar (restartPolicy Always): an init container that never ends holds the pod."""
    problems = []
    pod_context = spec.get("securityContext") or {}
    for kind in ("initContainers", "containers"):
        for agent in [c for c in spec.get(kind, []) if c["name"] == AGENT]:
            here = f"{where}: the agent ({kind})"
            context = agent.get("securityContext") or {}
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{here} has a writable root filesystem")
            if context.get("allowPrivilegeEscalation") is not False or context.get("privileged"):
                problems.append(f"{here} may escalate its privileges")
            if "ALL" not in (context.get("capabilities") or {}).get("drop", []):
                problems.append(f"{here} keeps capabilities: {context.get('capabilities')}")
            user = context.get("runAsUser", pod_context.get("runAsUser"))
            if user == 0 or (user is None and not context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))):
                problems.append(f"{here} may run as root (runAsUser {user})")
            seccomp = context.get("seccompProfile", pod_context.get("seccompProfile")) or {}
            if seccomp.get("type") != "RuntimeDefault":
                problems.append(f"{here} runs with seccomp profile {seccomp}")
            resources = agent.get("resources") or {}
            if any(not set(resources.get(part) or {}) >= {"cpu", "memory"} for part in ("requests", "limits")):
                problems.append(f"{here} has resources {resources}, not requests and limits of cpu and memory")
            env = env_of(agent)
            from_env = {(ref.get("secretRef") or {}).get("name") for ref in agent.get("envFrom", [])} - {None}
            for var in CREDENTIALS:
                if not ((env.get(var) or {}).get("secretKeyRef") if isinstance(env.get(var), dict) else from_env):
                    problems.append(f"{here} does not read {var} from a Secret: {env.get(var)!r}")
            if kind == "initContainers" and agent.get("restartPolicy") != "Always":
                problems.append(f"{here} has restartPolicy {agent.get('restartPolicy')!r}, not a native sidecar's "
                                "Always: the pod would wait for it forever")
            # startupProbe: "hold traffic until rules are loaded": the probe asks the agent's own listener.
            probe = ((agent.get("startupProbe") or {}).get("httpGet") or {})
            listener = env.get("SIGSCI_STARTUP_PROBE_LISTENER")
            if (probe or listener) and (probe.get("path") != "/startup" or listener != f"0.0.0.0:{probe.get('port')}"
                                        or probe.get("port") not in _container_ports(agent)):
                problems.append(f"{here} probes {probe} at startup, its probe listener is {listener!r} (ports "
                                f"{sorted(_container_ports(agent))}): not one port")
    return problems


def deep_merge(base: dict, over: dict) -> dict:
    """`over` on top of `base`, maps key by key: how an app's or the ingress's agent goes over sigsci:agent."""
    result = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(result.get(key), dict)
        result[key] = deep_merge(result[key], value) if both else value
    return result


def _merged_agent(config: dict, app: dict) -> dict:
    """An app's agent settings over sigsci:agent, key by key."""
    return deep_merge(config.get("sigsci:agent") or {}, app.get("agent") or {})


def _module_app_problems(where: str, namespace: str, deployment: str, labels: dict, spec: dict,
                         objects: list[dict], config: dict) -> list[str]:
    """A module's pod (docs/architecture.md, "Placements" 4): one agent, a native sidecar with no drain of its
    own, as the app's user; every app container that names the agent (`rpcAddressEnv`) names where it listens,
    and for the socket mounts the agent's volume where the agent does; the module's own container is one of
    them. Of a Deployment the stack creates: the Service and the NetworkPolicy keep the app's port, the app
    drains (by default as long as the agent would) and the grace period is that plus 15 s."""
    agents = [c for c in spec.get("initContainers", []) if c["name"] == AGENT]
    beside = [c for c in spec["containers"] if c["name"] == AGENT]
    if len(agents) != 1 or beside:
        return [(f"{where}: {len(agents)} agents among the init containers and {len(beside)} among the containers, "
                 "not one native sidecar")]
    agent = agents[0]
    problems = []
    if (agent.get("lifecycle") or {}).get("preStop"):
        problems.append(f"{where}: the agent, a native sidecar stopped after the app, has a preStop of its own")
    app = _app_for(config, namespace, deployment)
    if app is None or app.get("placement") != "module":
        return problems + [f"{where}: an agent beside a module, and no module app of sigsci:apps runs here"]
    address = env_of(agent).get("SIGSCI_RPC_ADDRESS")
    variable = app.get("rpcAddressEnv", RPC_ADDRESS_ENV)
    module = app.get("container", app["name"])
    containers = {c["name"]: c for c in spec["containers"]}
    if variable not in env_of(containers.get(module, {})):
        problems.append(f"{where}: the module's container {module} has no {variable} (it has "
                        f"{sorted(env_of(containers.get(module, {})))}, containers {sorted(containers)})")
    linked = [c for c in spec["containers"] if variable in env_of(c)]
    for c in linked:
        if env_of(c)[variable] != address:
            problems.append(f"{where}: {c['name']}'s {variable} is {env_of(c)[variable]!r}, the agent listens on "
                            f"{address!r}")
    if isinstance(address, str) and address.startswith("/"):
        if "rpcPort" in app:
            problems.append(f"{where}: the agent listens on the socket {address}, rpcPort is {app['rpcPort']}")
        mounts = {m["mountPath"]: m["name"] for m in agent.get("volumeMounts", [])}
        holding = max((p for p in mounts if address.startswith(p.rstrip("/") + "/")), key=len, default=None)
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        if holding is None or "emptyDir" not in volumes.get(mounts[holding], {}):
            problems.append(f"{where}: the agent's socket {address} is on no emptyDir it mounts ({mounts})")
        else:
            for c in linked:
                if {"name": mounts[holding], "mountPath": holding} not in [
                        {"name": m["name"], "mountPath": m["mountPath"]} for m in c.get("volumeMounts", [])]:
                    problems.append(f"{where}: {c['name']} does not mount {mounts[holding]} at {holding}, where the "
                                    f"agent creates its socket {address}")
    elif address != f"127.0.0.1:{app.get('rpcPort')}" or app.get("rpcPort") in _container_ports(agent):
        problems.append(f"{where}: the agent listens on {address!r} (ports {sorted(_container_ports(agent))}), "
                        f"rpcPort is {app.get('rpcPort')}: on localhost only")
    user = app.get("runAsUser", DEFAULT_UID)
    if (agent.get("securityContext") or {}).get("runAsUser") != user:
        problems.append(f"{where}: the agent runs as {(agent.get('securityContext') or {}).get('runAsUser')}, "
                        f"the app as {user}: the module could not open its socket")
    if "deployment" in app:
        if "terminationGracePeriodSeconds" in spec:
            problems.append(f"{where}: the patch sets the grace period, the Deployment owner's")
        return problems
    container = containers.get(module, {})
    if (container.get("securityContext") or {}).get("runAsUser") != user:
        shown = (container.get("securityContext") or {}).get("runAsUser")
        problems.append(f"{where}: the app container runs as {shown}, runAsUser is {user}")
    drain = app.get("preStopSleepSeconds", _merged_agent(config, app).get("preStopSleepSeconds", AGENT_PRE_STOP))
    sleep = (((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command")
    if drain and sleep != ["sleep", str(drain)]:
        problems.append(f"{where}: the app's preStop is {sleep}, its drain is {drain} s")
    grace = app.get("terminationGracePeriodSeconds", drain + SHUTDOWN_MARGIN)
    if spec.get("terminationGracePeriodSeconds") != grace:
        problems.append(f"{where}: a grace period of {spec.get('terminationGracePeriodSeconds')} s, not {grace}")
    services = [s for s in _services(objects) if _selects(s, namespace, labels)]
    shown = [(s["metadata"]["name"], [(p["port"], _named_port(p.get("targetPort", p["port"]), container))
                                      for p in s["spec"]["ports"]]) for s in services]
    wanted = [(app["name"], [(app.get("servicePort", app["port"]), app["port"])])]
    if shown != wanted:
        problems.append(f"{where}: Services {shown} send clients to it, not {wanted}: the module inspects on the "
                        "app's port")
    policies = [o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == namespace
                and _matches(o["spec"]["podSelector"].get("matchLabels", {}), labels)]
    admitted = {_named_port(p.get("port"), container) for o in policies for rule in o["spec"].get("ingress", [])
                for p in rule.get("ports", [])}
    if (app.get("networkPolicy", True) and admitted != {app["port"]}) or (not app.get("networkPolicy", True)
                                                                          and policies):
        problems.append(f"{where}: NetworkPolicies admit {sorted(admitted)} with networkPolicy "
                        f"{app.get('networkPolicy', True)}, the app's port is {app['port']}")
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


# -- the gateway ---------------------------------------------------------------------------------------------
# Judged from the raw `sigsci:gateway` config with the docs' defaults and rules (gateway_docs.py).

GATEWAY_KINDS = {"Gateway", "GatewayClass", "HTTPRoute", "ReferenceGrant", "EnvoyExtensionPolicy",
                 "ClientTrafficPolicy", "BackendTLSPolicy"}
_PATH_MATCH = {"Prefix": "PathPrefix", "Exact": "Exact"}  # a route's pathType as an HTTPRoute match's type


def _of_kind(objects: list[dict], kind: str, namespace: str | None = None) -> list[dict]:
    return [o for o in objects if o["kind"] == kind and namespace in (None, o["metadata"].get("namespace"))]


def _where(obj: dict) -> str:
    return f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata'].get('name')}"


def _named_port(port: Any, container: dict) -> Any:
    """A port number, or a port name resolved among the container's ports (Kubernetes' FindPort)."""
    names = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    return names.get(port) if isinstance(port, str) else port


def _whole_gateway(where: str, refs: Any, name: str) -> list[str]:
    """A policy's targetRefs: the Gateway itself, whole (a sectionName would leave other listeners out)."""
    wanted = {"group": gateway_docs.GATEWAY_API, "kind": "Gateway", "name": name}
    if not refs or any(ref != wanted for ref in refs):
        return [f"{where}: targets {refs}, not the whole Gateway {name} ({wanted})"]
    return []


def _gateway_agent_problems(objects: list[dict], gateway: dict, secret_name: str | None,
                            existing: str | None) -> tuple[list[str], dict | None]:
    """The agents: one port (`agents.port`) for their listener, container, Service, probe and NetworkPolicy;
    `agents.replicas` pods (2 by default) with a disruption budget above one; the stack's keys; their TLS.
    Returns the problems and the agents' Service."""
    namespace = gateway.get("namespace", gateway_docs.NAMESPACE)
    agents = gateway.get("agents") or {}
    port = agents.get("port", gateway_docs.AGENTS_PORT)
    found = [(o, c) for o in _of_kind(objects, "Deployment", namespace)
             for c in o["spec"]["template"]["spec"]["containers"] if "SIGSCI_ENVOY_GRPC_ADDRESS" in env_of(c)]
    if len(found) != 1:
        return [f"sigsci:gateway: {len(found)} Deployments of Envoy's external processor in {namespace}, not one"], None
    deployment, container = found[0]
    where, pod = _where(deployment), deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"].get("labels", {})
    env = env_of(container)
    problems = []
    listener = env["SIGSCI_ENVOY_GRPC_ADDRESS"]
    if not isinstance(listener, str) or listener.rpartition(":")[2] != str(port):
        problems.append(f"{where}: the agents listen on {listener}, agents.port is {port}")
    if env.get("SIGSCI_ENVOY_EXTPROC_ENABLED") != "true":
        problems.append(f"{where}: SIGSCI_ENVOY_EXTPROC_ENABLED is {env.get('SIGSCI_ENVOY_EXTPROC_ENABLED')!r}")
    # docs/gateway.md: "SIGSCI_SERVER_FLAVOR=envoy-gateway" is set (Fastly's Envoy Gateway guide).
    if _implementation(gateway) == gateway_docs.ENVOY_GATEWAY and env.get("SIGSCI_SERVER_FLAVOR") != "envoy-gateway":
        problems.append(f"{where}: SIGSCI_SERVER_FLAVOR is {env.get('SIGSCI_SERVER_FLAVOR')!r}")
    if port not in _container_ports(container):
        problems.append(f"{where}: the agents' containerPorts {sorted(_container_ports(container))} lack {port}")
    probe = container.get("readinessProbe") or {}
    tls = agents.get("tls")
    # A gRPC readiness probe on the listener's port; with TLS, which the kubelet's gRPC probe cannot speak, the
    # listener accepting connections.
    how = "tcpSocket" if tls else "grpc"
    if _named_port((probe.get(how) or {}).get("port"), container) != port:
        problems.append(f"{where}: the readiness probe is {probe}, not {how} on {port}")
    replicas = agents.get("replicas", gateway_docs.AGENTS_REPLICAS)
    if deployment["spec"].get("replicas") != replicas:
        problems.append(f"{where}: {deployment['spec'].get('replicas')} replicas, agents.replicas is {replicas}")
    budgets = [o for o in _of_kind(objects, "PodDisruptionBudget", namespace)
               if _matches(o["spec"]["selector"].get("matchLabels", {}), labels)]
    if (replicas > 1) != bool(budgets):
        problems.append(f"{where}: {len(budgets)} PodDisruptionBudgets for {replicas} replicas")
    credentials = {"SIGSCI_ACCESSKEYID": "accesskeyid", "SIGSCI_SECRETACCESSKEY": "secretaccesskey"}
    for var, key in credentials.items():
        ref = (env.get(var) or {}).get("secretKeyRef") if isinstance(env.get(var), dict) else None
        if ref is None or (ref.get("name"), ref.get("key")) != (secret_name, key):
            problems.append(f"{where}: {var} reads {ref}, not key {key} of the stack's Secret {secret_name}")
    if existing is None and not [o for o in _of_kind(objects, "Secret", namespace)
                                 if o["metadata"]["name"] == secret_name]:
        problems.append(f"{where}: no Secret {secret_name} in {namespace}, which its keys come from")
    problems += _agents_tls_problems(where, objects, namespace, pod, container, tls)
    services = [s for s in _services(objects) if _selects(s, namespace, labels)]
    if len(services) != 1:
        return problems + [f"{where}: {len(services)} Services select the agents, not one"], None
    service = services[0]
    ports = service["spec"]["ports"]
    if [(p["port"], _named_port(p.get("targetPort", p["port"]), container), p.get("name")) for p in ports] \
            != [(port, port, "grpc")]:
        problems.append(f"{_where(service)}: ports {ports}, not one named grpc on {port} to {port}")
    policies = [o for o in _of_kind(objects, "NetworkPolicy", namespace)
                if _matches(o["spec"]["podSelector"].get("matchLabels", {}), labels)]
    rules = [rule for o in policies for rule in o["spec"].get("ingress", [])]
    admitted = {_named_port(p.get("port"), container) for rule in rules for p in rule.get("ports", [])}
    if not policies or admitted != {port} or not all(rule.get("from") and rule.get("ports") for rule in rules):
        problems.append(f"{where}: its NetworkPolicies admit {rules}, not only chosen clients on port {port}")
    if _implementation(gateway) == gateway_docs.ISTIO:
        # "The agents' NetworkPolicy admits only the Gateway's proxies, in the Gateway's namespace."
        home, name = gateway_docs.home(gateway)
        proxies = {"podSelector": {"matchLabels": {gateway_docs.GATEWAY_NAME_LABEL: name}}}
        if home != namespace:
            proxies["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": home}}
        if any(peer != proxies for rule in rules for peer in rule.get("from", [])):
            problems.append(f"{where}: its NetworkPolicies admit {rules}, not only {proxies}")
    return problems, service


def _agents_tls_problems(where: str, objects: list[dict], namespace: str, pod: dict, container: dict,
                         tls: dict | None) -> list[str]:
    """With agents.tls, the agents serve the Secret's certificate and key, and a BackendTLSPolicy makes Envoy
    verify them against the CA Secret for the agents' name; without it, neither."""
    env = env_of(container)
    backend_tls = _of_kind(objects, "BackendTLSPolicy")
    if not tls:
        given = [v for v in ("SIGSCI_ENVOY_GRPC_CERT", "SIGSCI_ENVOY_GRPC_KEY") if v in env]
        return [f"{where}: {given} without agents.tls"] * bool(given) + \
            [f"{_where(o)}: without agents.tls" for o in backend_tls]
    problems = []
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    for var, file in (("SIGSCI_ENVOY_GRPC_CERT", "tls.crt"), ("SIGSCI_ENVOY_GRPC_KEY", "tls.key")):
        directory, _, name = str(env.get(var)).rpartition("/")
        secret = (volumes.get(mounts.get(directory)) or {}).get("secret") or {}
        items = {i["path"]: i["key"] for i in secret.get("items", [])} or {name: name}
        if secret.get("secretName") != tls["secret"] or items.get(name) != file:
            problems.append(f"{where}: {var} is {env.get(var)}, not {file} of agents.tls.secret {tls['secret']}")
    service = gateway_docs.AGENTS_NAME
    policies = [o for o in backend_tls if o["metadata"].get("namespace") == namespace and any(
        r.get("kind") == "Service" and r.get("name") == service for r in o["spec"].get("targetRefs", []))]
    if len(policies) != 1:
        return problems + [f"{where}: {len(policies)} BackendTLSPolicies on the agents' Service, not one"]
    validation = policies[0]["spec"].get("validation", {})
    wanted = {"caCertificateRefs": [{"group": "", "kind": "Secret", "name": tls.get("caSecret", tls["secret"])}],
              "hostname": tls.get("hostname", f"{service}.{namespace}.svc")}
    if validation != wanted:
        problems.append(f"{_where(policies[0])}: validates {validation}, not {wanted}")
    return problems


def _timeout_problems(where: str, timeout_ms: int | None, gateway: dict, buffer: int | None) -> list[str]:
    """The agents' answer is waited for as long as the config says, which the rule allows for the buffer the
    proxies hold bodies in ("at least 1 s per MiB of bodyLimit, at least 500 ms")."""
    configured = gateway_docs.duration_ms(gateway.get("messageTimeout", gateway_docs.MESSAGE_TIMEOUT))
    problems = [] if timeout_ms == configured else [f"{where}: waits {timeout_ms} ms, messageTimeout is {configured}"]
    if buffer is not None and (timeout_ms or 0) < gateway_docs.min_timeout_ms(buffer):
        problems.append(f"{where}: waits {timeout_ms} ms, under 1 s per MiB of the {buffer}-byte buffer")
    return problems


def _envoy_gateway_policy_problems(objects: list[dict], gateway: dict, service: dict | None) -> list[str]:
    """The EnvoyExtensionPolicy on the whole Gateway, beside it, to the agents' Service, fail-closed unless
    failOpen, bodies Buffered, a timeout the body limit allows; the ClientTrafficPolicy's buffer is the limit."""
    namespace, name = gateway_docs.home(gateway)
    problems = []
    buffers = _of_kind(objects, "ClientTrafficPolicy")
    limit = gateway_docs.size_bytes(gateway.get("bodyLimit", gateway_docs.BODY_LIMIT))
    buffer = None
    if len(buffers) != 1 or buffers[0]["metadata"].get("namespace") != namespace:
        problems.append(f"{len(buffers)} ClientTrafficPolicies, not one beside the Gateway in {namespace}")
    else:
        problems += _whole_gateway(_where(buffers[0]), buffers[0]["spec"].get("targetRefs"), name)
        buffer = gateway_docs.size_bytes((buffers[0]["spec"].get("connection") or {}).get("bufferLimit"))
        if buffer != limit:
            problems.append(f"{_where(buffers[0])}: buffers {buffer} bytes, bodyLimit is {limit}")
        window = (buffers[0]["spec"].get("http2") or {}).get("initialStreamWindowSize")
        if gateway_docs.size_bytes(window) != gateway_docs.http2_window(limit):
            problems.append(f"{_where(buffers[0])}: HTTP/2 stream window {window}, bodyLimit is {limit}")
    policies = _of_kind(objects, "EnvoyExtensionPolicy")
    if len(policies) != 1 or policies[0]["metadata"].get("namespace") != namespace:
        return problems + [f"{len(policies)} EnvoyExtensionPolicies, not one beside the Gateway in {namespace}"]
    policy = policies[0]
    where = _where(policy)
    problems += _whole_gateway(where, policy["spec"].get("targetRefs"), name)
    processors = policy["spec"].get("extProc") or []
    if len(processors) != 1:
        return problems + [f"{where}: {len(processors)} extProc entries, not one"]
    processor = processors[0]
    if service is not None:
        wanted = [{"group": "", "kind": "Service", "name": service["metadata"]["name"],
                   "namespace": service["metadata"]["namespace"], "port": service["spec"]["ports"][0]["port"]}]
        refs = [{"group": "", "kind": "Service", "namespace": namespace, **ref}
                for ref in processor.get("backendRefs") or []]
        if refs != wanted:
            problems.append(f"{where}: sends to {processor.get('backendRefs')}, not the agents' Service {wanted}")
    problems += _fail_open_problems(where, processor.get("failOpen", False), gateway)
    mode = processor.get("processingMode") or {}
    inspect = gateway.get("inspectResponses", True)
    if (mode.get("request") or {}).get("body") != "Buffered" or ("response" in mode) is not inspect \
            or (inspect and (mode.get("response") or {}).get("body") != "Buffered"):
        problems.append(f"{where}: processingMode {mode} with inspectResponses {inspect}")
    return problems + _timeout_problems(where, gateway_docs.duration_ms(processor.get("messageTimeout")), gateway,
                                        buffer)


def _fail_open_problems(where: str, fail_open: Any, gateway: dict) -> list[str]:
    if fail_open is not (gateway.get("failOpen") is True):
        return [f"{where}: failOpen {fail_open}, the config says {gateway.get('failOpen', 'nothing')}"]
    return []


_PROTO_DURATION = re.compile(r"([0-9]+)(?:\.([0-9]{1,9}))?s")


def _proto_ms(value: Any) -> int | None:
    """Milliseconds of a protobuf JSON duration ('90s', '0.500s')."""
    match = _PROTO_DURATION.fullmatch(value) if isinstance(value, str) else None
    return int(match[1]) * 1000 + int((match[2] or "0").ljust(3, "0")[:3]) if match else None


def _istio_filter_problems(objects: list[dict], gateway: dict, service: dict | None) -> list[str]:
    """The EnvoyFilter beside the Gateway selects exactly its proxies and puts ext_proc before the router of
    their HTTP listeners: to the Envoy cluster Istio makes for the agents' Service, fail-closed unless failOpen,
    bodies BUFFERED (responses with inspectResponses), a timeout the body limit allows; and raises their
    listeners' buffer to the limit."""
    namespace, name = gateway_docs.home(gateway)
    filters = _of_kind(objects, "EnvoyFilter")
    if len(filters) != 1 or filters[0]["metadata"].get("namespace") != namespace:
        return [f"{len(filters)} EnvoyFilters, not one beside the Gateway in {namespace}"]
    where, spec = _where(filters[0]), filters[0]["spec"]
    problems = []
    if spec.get("workloadSelector") != {"labels": {gateway_docs.GATEWAY_NAME_LABEL: name}}:
        problems.append(f"{where}: selects {spec.get('workloadSelector')}, not the proxies of Gateway {name}")
    patches = spec.get("configPatches") or []
    if any((patch.get("match") or {}).get("context") != "GATEWAY" for patch in patches):
        problems.append(f"{where}: a patch outside the gateway's proxies: {patches}")
    limit = gateway_docs.size_bytes(gateway.get("bodyLimit", gateway_docs.BODY_LIMIT))
    buffers = [(patch.get("patch") or {}).get("value", {}).get("per_connection_buffer_limit_bytes")
               for patch in patches if patch.get("applyTo") == "LISTENER"]
    if buffers != [limit]:
        problems.append(f"{where}: listener buffers {buffers}, bodyLimit is {limit}")
    windows = [(((patch.get("patch") or {}).get("value") or {}).get("typed_config") or {}).get(
        "http2_protocol_options", {}).get("initial_stream_window_size")
        for patch in patches if patch.get("applyTo") == "NETWORK_FILTER"]
    if windows != [gateway_docs.http2_window(limit)]:
        problems.append(f"{where}: HTTP/2 stream windows {windows}, bodyLimit is {limit}")
    inserts = [patch for patch in patches if patch.get("applyTo") == "HTTP_FILTER"]
    if len(inserts) != 1:
        return problems + [f"{where}: {len(inserts)} HTTP filters added, not one"]
    listener = (inserts[0].get("match") or {}).get("listener", {})
    added = (inserts[0].get("patch") or {})
    if added.get("operation") != "INSERT_BEFORE" or \
            listener.get("filterChain", {}).get("filter", {}).get("subFilter", {}).get("name") != \
            "envoy.filters.http.router" or (added.get("value") or {}).get("name") != "envoy.filters.http.ext_proc":
        problems.append(f"{where}: adds {added} at {listener}, not ext_proc before the router")
    config = (added.get("value") or {}).get("typed_config") or {}
    if service is not None:
        cluster = (f"outbound|{service['spec']['ports'][0]['port']}||{service['metadata']['name']}."
                   f"{service['metadata']['namespace']}.svc."
                   f"{(gateway.get('istio') or {}).get('clusterDomain', gateway_docs.CLUSTER_DOMAIN)}")
        shown = config.get("grpc_service", {}).get("envoy_grpc", {}).get("cluster_name")
        if shown != cluster:
            problems.append(f"{where}: sends to cluster {shown}, not the agents' Service's {cluster}")
    problems += _fail_open_problems(where, config.get("failure_mode_allow", False), gateway)
    mode = config.get("processing_mode") or {}
    # Envoy's defaults: headers SEND, bodies NONE.
    shown = tuple(mode.get(f"{phase}_{part}_mode", "SEND" if part == "header" else "NONE")
                  for phase in ("request", "response") for part in ("header", "body"))
    inspect = gateway.get("inspectResponses", True)
    if shown != ("SEND", "BUFFERED", *(("SEND", "BUFFERED") if inspect else ("SKIP", "NONE"))):
        problems.append(f"{where}: processing_mode {mode} with inspectResponses {inspect}")
    return problems + _timeout_problems(where, _proto_ms(config.get("message_timeout")), gateway,
                                        buffers[0] if len(buffers) == 1 else None)


def _gateway_object_problems(objects: list[dict], gateway: dict) -> list[str]:
    """The Gateway and its GatewayClass the stack creates, as configured; none with existingGateway."""
    gateways, classes = _of_kind(objects, "Gateway"), _of_kind(objects, "GatewayClass")
    if gateway.get("existingGateway"):
        return [f"{_where(o)}: declared beside existingGateway" for o in gateways + classes]
    namespace, name = gateway_docs.home(gateway)
    if [(o["metadata"].get("namespace"), o["metadata"].get("name")) for o in gateways] != [(namespace, name)]:
        return [f"Gateways {[_where(o) for o in gateways]}, not {namespace}/{name}"]
    spec = gateways[0]["spec"]
    implementation = _implementation(gateway)
    gateway_class = gateway.get("gatewayClass", gateway_docs.GATEWAY_CLASS[implementation])
    # The stack creates Envoy Gateway's class (unless named without the install); Istio's is Istio's own.
    created = [(gateway_class, harness.GATEWAY_CONTROLLERS[implementation])] \
        if gateway_docs.creates_gateway_class(gateway) else []
    problems = []
    if spec.get("gatewayClassName") != gateway_class or \
            [(o["metadata"].get("name"), o["spec"].get("controllerName")) for o in classes] != created:
        problems.append(f"Gateway {name}: class {spec.get('gatewayClassName')}, classes declared "
                        f"{[o['spec'] for o in classes]}, not {gateway_class} and {created}")
    listeners = gateway.get("listeners") or {}
    secrets = listeners.get("tlsSecrets") or []
    wanted = [("HTTP", listeners.get("httpPort", gateway_docs.HTTP_PORT), [])] + (
        [("HTTPS", listeners.get("httpsPort", gateway_docs.HTTPS_PORT), secrets)] if secrets else [])
    shown = [(li.get("protocol"), li.get("port"), [r.get("name") for r in (li.get("tls") or {}).get(
        "certificateRefs", [])]) for li in spec.get("listeners", [])]
    if shown != wanted:
        problems.append(f"Gateway {name}: listeners {shown}, not {wanted}")
    # "its listeners admit only HTTPRoutes from its own namespace".
    if any((li.get("allowedRoutes") or {}).get("namespaces", {}).get("from") != "Same"
           for li in spec.get("listeners", [])):
        problems.append(f"Gateway {name}: a listener admits routes from other namespaces")
    return problems


def _gateway_route_problems(objects: list[dict], config: dict, gateway: dict) -> list[str]:
    """One HTTPRoute per route, in the Gateway's namespace and attached to it, to the route's backend: an app's
    own Service on the port clients use, or the named Service."""
    namespace, name = gateway_docs.home(gateway)
    routes = _of_kind(objects, "HTTPRoute")
    problems = []
    for route in routes:
        parents = [{"group": gateway_docs.GATEWAY_API, "kind": "Gateway", "namespace": namespace, **ref}
                   for ref in route["spec"].get("parentRefs", [])]
        if route["metadata"].get("namespace") != namespace or {"group": gateway_docs.GATEWAY_API, "kind": "Gateway",
                                                               "namespace": namespace, "name": name} not in parents:
            problems.append(f"{_where(route)}: not attached to the Gateway {namespace}/{name} beside it")
    by_name = {route["metadata"].get("name"): route for route in routes}
    # ingressRoutes: "also serve every route of sigsci:ingress on the Gateway, from the same list".
    shared = ((config.get("sigsci:ingress") or {}).get("routes") or []) if gateway.get("ingressRoutes") else []
    configured = echo_routes(config) + shared + (gateway.get("routes") or [])
    if len(routes) != len(configured):
        problems.append(f"{len(routes)} HTTPRoutes for {len(configured)} routes")
    for index, entry in enumerate(configured):
        backend = gateway_docs.app_backend(entry, _apps(config))
        route = by_name.get(entry.get("name", backend and backend[1]))
        if backend is None or route is None:
            problems.append(f"route {entry}: no HTTPRoute (backend {backend})")
            continue
        host = [entry["host"]] if "host" in entry else []
        wanted_rule = {"matches": [{"path": {"type": _PATH_MATCH[entry.get("pathType", "Prefix")],
                                             "value": entry.get("path", "/")}}],
                       "backendRefs": [{"group": "", "kind": "Service", "name": backend[1], "namespace": backend[0],
                                        "port": backend[2]}]}
        rules = [{"matches": rule.get("matches"), "backendRefs": [
            {"group": "", "kind": "Service", "namespace": namespace, **ref} for ref in rule.get("backendRefs", [])]}
            for rule in route["spec"].get("rules", [])]
        if route["spec"].get("hostnames", []) != host or rules != [wanted_rule]:
            problems.append(f"{_where(route)}: hostnames {route['spec'].get('hostnames')} and rules {rules}, not "
                            f"{host} and {[wanted_rule]}")
    return problems


def _grant_problems(objects: list[dict]) -> list[str]:
    """Every backendRef of a route or a policy into another namespace has a ReferenceGrant there, from that kind
    in that namespace, to that Service (Gateway API ignores the reference otherwise)."""
    problems = []
    for obj in _of_kind(objects, "HTTPRoute") + _of_kind(objects, "EnvoyExtensionPolicy"):
        namespace = obj["metadata"].get("namespace")
        group = obj["apiVersion"].split("/")[0]
        entries = obj["spec"].get("rules") or obj["spec"].get("extProc") or []
        for ref in [ref for entry in entries for ref in entry.get("backendRefs", [])]:
            target = ref.get("namespace", namespace)
            if target == namespace:
                continue
            origin = {"group": group, "kind": obj["kind"], "namespace": namespace}
            if not any(origin in grant["spec"].get("from", []) and any(
                    to.get("group", "") == "" and to.get("kind") == ref.get("kind", "Service")
                    and to.get("name", ref["name"]) == ref["name"] for to in grant["spec"].get("to", []))
                       for grant in _of_kind(objects, "ReferenceGrant", target)):
                problems.append(f"{_where(obj)}: reaches Service {target}/{ref['name']} with no ReferenceGrant there")
    return problems


def _envoy_gateway_problems(run: Run, gateway: dict) -> list[str]:
    """Envoy Gateway's Helm release: the configured version in its namespace, unless envoyGateway.enabled is false
    (or the implementation is another)."""
    install = gateway.get("envoyGateway") or {}
    releases = [clean(r.inputs) for r in run.of_type(harness.RELEASE_TYPE)
                if clean(r.inputs).get("chart", "").endswith("gateway-helm")]
    wanted = [(install.get("namespace", gateway_docs.ENVOY_GATEWAY_NAMESPACE),
               install.get("version", gateway_docs.ENVOY_GATEWAY_VERSION))] \
        if gateway_docs.installs_envoy_gateway(gateway) else []
    shown = [(r.get("namespace"), r.get("version")) for r in releases]
    return [] if shown == wanted else [f"Envoy Gateway releases {shown}, not {wanted}"]


def _implementation(gateway: dict) -> str:
    return gateway.get("implementation", gateway_docs.IMPLEMENTATIONS[0])


def _existing_check_problems(objects: list[dict], gateway: dict) -> list[str]:
    """With existingGateway, or a class the cluster has, what relies on the Gateway carries the controller the
    cluster was checked for (docs/gateway.md: "annotation sigsci.fastly.com/gateway-controller")."""
    if gateway_docs.creates_gateway_class(gateway):
        return []
    controller = harness.GATEWAY_CONTROLLERS[_implementation(gateway)]
    return [f"{_where(o)}: checked for {found!r}, not {controller!r}" for o in objects
            if o["kind"] in ("EnvoyExtensionPolicy", "ClientTrafficPolicy", "EnvoyFilter", "HTTPRoute")
            for found in [(o["metadata"].get("annotations") or {}).get("sigsci.fastly.com/gateway-controller")]
            if found != controller]


def _gateway_problems(run: Run, objects: list[dict], config: dict, secret_name: str | None,
                      existing: str | None) -> list[str]:
    gateway = config.get("sigsci:gateway")
    if not isinstance(gateway, dict):
        return [f"{_where(o)}: declared without sigsci:gateway" for o in objects
                if o["kind"] in GATEWAY_KINDS | {"EnvoyFilter"}]
    implementation = _implementation(gateway)
    if implementation not in gateway_docs.IMPLEMENTATIONS:
        return [f"sigsci:gateway: the invariants do not know implementation {implementation!r} yet"]
    problems, service = _gateway_agent_problems(objects, gateway, secret_name, existing)
    if implementation == gateway_docs.ISTIO:
        policy = _istio_filter_problems(objects, gateway, service)
        other = [o for o in objects if o["kind"] in ("EnvoyExtensionPolicy", "ClientTrafficPolicy")]
    else:
        policy = _envoy_gateway_policy_problems(objects, gateway, service)
        other = _of_kind(objects, "EnvoyFilter")
    problems += policy + [f"{_where(o)}: not of implementation {implementation}" for o in other]
    problems += _gateway_object_problems(objects, gateway) + _existing_check_problems(objects, gateway)
    problems += _gateway_route_problems(objects, config, gateway) + _envoy_gateway_problems(run, gateway)
    namespace, name = gateway_docs.home(gateway)
    output = {"namespace": gateway.get("namespace", gateway_docs.NAMESPACE), "gatewayNamespace": namespace,
              "gatewayName": name}
    if run.outputs.get("gateway") != output:
        problems.append(f"stack output gateway is {run.outputs.get('gateway')}, not {output}")
    return problems


def _apps_output_problems(outputs: dict, config: dict) -> list[str]:
    """The stack output `apps`: per `<namespace>/<name>`, its namespace, placement and the Service clients use
    (`null` for a module in an existing Deployment)."""
    wanted = {f"{app.get('namespace', 'default')}/{app['name']}": {
        "namespace": app.get("namespace", "default"), "placement": app.get("placement", "owned"),
        "service": gateway_docs.app_service(app)} for app in _apps(config)}
    shown = outputs.get("apps", {})
    if shown != wanted:
        return [f"stack output apps is {shown}, not {wanted}"]
    return []


# -- the echo of sigsci:verify ---------------------------------------------------------------------------------
# Judged from the raw `sigsci:verify` config with docs/configuration.md's and docs/operations.md's words: "routes
# the path prefix /sigsci-verify on `host` of every entry to an echo backend in `namespace`".

ECHO_DEFAULTS = {"namespace": "sigsci-verify", "host": "sigsci-verify.invalid"}
ECHO_PATH, ECHO_SERVICE, ECHO_PORT, ECHO_ROUTE = "/sigsci-verify", "sigsci-echo", 80, "sigsci-verify"
ECHO_COMPONENT = {"app.kubernetes.io/component": "verify-echo"}


def _echo(config: dict) -> dict | None:
    verify = config.get("sigsci:verify")
    if not isinstance(verify, dict) or verify.get("echo") is not True:
        return None
    return {**ECHO_DEFAULTS, **{k: verify[k] for k in ECHO_DEFAULTS if k in verify}}


def echo_routes(config: dict) -> list[dict]:
    """The echo's route as a route of an entry says it: every entry serves it."""
    echo = _echo(config)
    return [] if echo is None else [{"name": ECHO_ROUTE, "host": echo["host"], "path": ECHO_PATH,
                                     "service": {"name": ECHO_SERVICE, "port": ECHO_PORT},
                                     "namespace": echo["namespace"]}]


def _echo_problems(objects: list[dict], outputs: dict, config: dict) -> list[str]:
    """The echo runs alone in its namespace, hardened like every pod of ours and without an agent, behind a
    Service on port 80; its NetworkPolicy admits named peers only; the ingress controller's class routes the echo
    path on its host to it; the `verify` output says where."""
    echo = _echo(config)
    ours = [o for o in objects if _matches(ECHO_COMPONENT, (o["metadata"].get("labels") or {}))]
    if echo is None:
        return [f"{_where(o)}: declared without sigsci:verify echo" for o in ours] + \
            ([f"stack output verify is {outputs['verify']} without sigsci:verify echo"] if "verify" in outputs else [])
    problems = []
    wanted = {"host": echo["host"], "path": ECHO_PATH, "namespace": echo["namespace"], "service": ECHO_SERVICE}
    if outputs.get("verify") != {"echo": wanted}:
        problems.append(f"stack output verify is {outputs.get('verify')}, not {{'echo': {wanted}}}")
    if sorted(o["kind"] for o in ours) != ["Deployment", "NetworkPolicy", "Service"] \
            or any(o["metadata"]["namespace"] != echo["namespace"] for o in ours):
        problems.append(f"the echo's objects are {[_where(o) for o in ours]}, not a Deployment, Service and "
                        f"NetworkPolicy in {echo['namespace']}")
    for deployment in _of_kind(ours, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        for container in _containers(pod):
            context = container.get("securityContext") or {}
            if container["name"] == AGENT or context.get("readOnlyRootFilesystem") is not True \
                    or context.get("runAsNonRoot") is not True or context.get("capabilities") != {"drop": ["ALL"]} \
                    or (context.get("seccompProfile") or {}).get("type") != "RuntimeDefault" \
                    or not all(set((container.get("resources") or {}).get(p) or {}) >= {"cpu", "memory"}
                               for p in ("requests", "limits")) \
                    or not {"readinessProbe", "livenessProbe"} <= set(container) \
                    or container.get("imagePullPolicy") != "IfNotPresent":
                problems.append(f"{_where(deployment)}: container {container['name']} is not a hardened echo")
    for service in _of_kind(ours, "Service"):
        if [p["port"] for p in service["spec"]["ports"]] != [ECHO_PORT] or service["spec"].get("type") != "ClusterIP":
            problems.append(f"{_where(service)}: not a ClusterIP Service on port {ECHO_PORT}")
    for policy in _of_kind(ours, "NetworkPolicy"):
        rules = policy["spec"].get("ingress") or []
        if not rules or any(not rule.get("from") or any(not peer.get("podSelector", {}).get("matchLabels")
                                                        for peer in rule["from"]) for rule in rules):
            problems.append(f"{_where(policy)}: admits traffic from pods it does not name: {rules}")
    ingress = config.get("sigsci:ingress")
    if isinstance(ingress, dict):
        cls = (ingress.get("ingressClass") or {}).get("name", "sigsci-nginx")
        found = [o for o in _of_kind(objects, "Ingress", echo["namespace"]) if o["metadata"]["name"] == ECHO_ROUTE]
        rule = {"host": echo["host"], "http": {"paths": [{"path": ECHO_PATH, "pathType": "Prefix", "backend": {
            "service": {"name": ECHO_SERVICE, "port": {"number": ECHO_PORT}}}}]}}
        if [(o["spec"].get("ingressClassName"), o["spec"].get("rules")) for o in found] != [(cls, [rule])]:
            problems.append(f"the echo's Ingress is {found}, not of class {cls} with {rule}")
    return problems


# -- injection by label ---------------------------------------------------------------------------------------
# Judged from the raw `sigsci:injection` config with docs/injection.md's words.

INJECTION_KINDS = {"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "ValidatingAdmissionPolicy",
                   "ValidatingAdmissionPolicyBinding"}


def selects(selector: Any, labels: dict) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) picks an object with these labels; an absent or empty
    one picks every object."""
    selector = selector or {}
    if not _matches(selector.get("matchLabels") or {}, labels):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator in ("In", "NotIn"):
            chosen = (labels.get(key) in values) is (operator == "In")
        else:
            chosen = (key in labels) is (operator == "Exists")
        if not chosen:
            return False
    return True


def _namespace_labels(name: str) -> dict:
    return {"kubernetes.io/metadata.name": name}


def _admission_problems(objects: list[dict], kind: str, name_hint: str) -> tuple[list[str], dict | None, dict | None]:
    """The one policy of `kind`, failing closed, on pod creation, and the one binding to it."""
    policies, bindings = _of_kind(objects, kind), _of_kind(objects, f"{kind}Binding")
    if len(policies) != 1 or len(bindings) != 1:
        return [f"{len(policies)} {kind}s and {len(bindings)} bindings for {name_hint}, not one each"], None, None
    policy, binding = policies[0], bindings[0]
    problems = []
    if policy["spec"].get("failurePolicy") != "Fail":
        problems.append(f"{_where(policy)}: failurePolicy {policy['spec'].get('failurePolicy')!r}, not Fail: a pod "
                        "that asked for an agent would start without one")
    rules = (policy["spec"].get("matchConstraints") or {}).get("resourceRules") or []
    if not any("pods" in r.get("resources", []) and "CREATE" in r.get("operations", [])
               and "" in r.get("apiGroups", []) for r in rules):
        problems.append(f"{_where(policy)}: matches {rules}, not the creation of pods")
    if binding["spec"].get("policyName") != policy["metadata"]["name"]:
        problems.append(f"{_where(binding)}: binds {binding['spec'].get('policyName')}, not "
                        f"{policy['metadata']['name']}")
    return problems, policy, binding


def _injection_problems(objects: list[dict], outputs: dict, config: dict, secret_name: str | None,
                        existing: str | None) -> list[str]:
    """docs/injection.md: the parameters ConfigMap in paramsNamespace; the MutatingAdmissionPolicy that adds the
    agent to labelled pods of the opted-in namespaces (failurePolicy Fail, parameterNotFoundAction Deny); the
    ValidatingAdmissionPolicy that refuses a labelled pod without exactly one agent in any namespace
    (failurePolicy Fail, validationActions [Deny]); the keys' Secret in every opted-in namespace; the stack
    output `injection`."""
    injection = config.get("sigsci:injection")
    if not isinstance(injection, dict):
        return [f"{_where(o)}: declared without sigsci:injection" for o in objects if o["kind"] in INJECTION_KINDS] + \
            ([f"stack output injection is {outputs['injection']} without sigsci:injection"] if "injection" in outputs
             else [])
    namespaces = set(injection["namespaces"])
    params_namespace = injection.get("paramsNamespace", PARAMS_NAMESPACE)
    # Namespaces and pods to try the selectors on: the opted-in ones, and others.
    elsewhere = {params_namespace, "default", "kube-system", "not-opted-in"} - namespaces
    labelled, unlabelled = dict(INJECTION_LABEL), {"app": "web"}
    problems, policy, binding = _admission_problems(objects, "MutatingAdmissionPolicy", "adding the agent")
    if binding is not None:
        where, spec = _where(binding), binding["spec"]
        ref = spec.get("paramRef") or {}
        if ref.get("parameterNotFoundAction") != "Deny":
            problems.append(f"{where}: parameterNotFoundAction {ref.get('parameterNotFoundAction')!r}, not Deny")
        params = [o for o in _of_kind(objects, "ConfigMap", params_namespace)
                  if o["metadata"]["name"] == ref.get("name")]
        if ref.get("namespace") != params_namespace or len(params) != 1:
            problems.append(f"{where}: reads its parameters from {ref}, not a ConfigMap of the stack in "
                            f"{params_namespace}")
        elif params[0].get("data", {}).get("secretName") != secret_name:
            shown = params[0].get("data", {}).get("secretName")
            problems.append(f"{_where(params[0])}: the keys' Secret is {shown!r}, not {secret_name!r}")
        if (policy["spec"].get("paramKind") or {}) != {"apiVersion": "v1", "kind": "ConfigMap"}:
            problems.append(f"{_where(policy)}: parameters of kind {policy['spec'].get('paramKind')}, not a ConfigMap")
        match = spec.get("matchResources") or {}
        chosen = {ns for ns in namespaces | elsewhere if selects(match.get("namespaceSelector"), _namespace_labels(ns))}
        if chosen != namespaces:
            problems.append(f"{where}: adds the agent in {sorted(chosen)}, the opted-in namespaces are "
                            f"{sorted(namespaces)}")
        if not selects(match.get("objectSelector"), labelled) or selects(match.get("objectSelector"), unlabelled):
            problems.append(f"{where}: selects pods by {match.get('objectSelector')}, not the label {INJECTION_LABEL}")
    guard_problems, _, guard_binding = _admission_problems(objects, "ValidatingAdmissionPolicy",
                                                           "requiring the agent")
    problems += guard_problems
    if guard_binding is not None:
        where, spec = _where(guard_binding), guard_binding["spec"]
        if spec.get("validationActions") != ["Deny"]:
            problems.append(f"{where}: validationActions {spec.get('validationActions')}, not [Deny]")
        match = spec.get("matchResources") or {}
        # "refuses a labelled pod, in any namespace".
        chosen = {ns for ns in namespaces | elsewhere if selects(match.get("namespaceSelector"), _namespace_labels(ns))}
        if chosen != namespaces | elsewhere:
            problems.append(f"{where}: requires the agent in {sorted(chosen)} only, not in every namespace")
        if not selects(match.get("objectSelector"), labelled) or selects(match.get("objectSelector"), unlabelled):
            problems.append(f"{where}: selects pods by {match.get('objectSelector')}, not the label {INJECTION_LABEL}")
    if existing is None:
        have = {o["metadata"]["namespace"] for o in objects if o["kind"] == "Secret"
                and o["metadata"]["name"] == secret_name}
        if namespaces - have:
            problems.append(f"sigsci:injection: no Secret {secret_name} in {sorted(namespaces - have)}, where "
                            "injected agents read their keys")
    output = {"policyName": policy and policy["metadata"]["name"], "paramsNamespace": params_namespace}
    if outputs.get("injection") != output:
        problems.append(f"stack output injection is {outputs.get('injection')}, not {output}")
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
    problems += _collision_problems(run, objects) + _grant_problems(objects)
    site = config.get("sigsci:site")
    secret_name = existing if existing is not None else site and f"sigsci.{site}"
    problems += _gateway_problems(run, objects, config, secret_name, existing)
    problems += _injection_problems(objects, clean(run.outputs), config, secret_name, existing)
    problems += _apps_output_problems(clean(run.outputs), config)
    problems += _echo_problems(objects, clean(run.outputs), config)
    for obj in objects:
        problems += _metadata_problems(obj) + _shape_problems(obj)
    for where, namespace, deployment, labels, spec in pods(run, config, chart_pods):
        problems += _pod_problems(where, spec) + _agent_problems(where, spec)
        problems += _secret_problems(where, namespace, spec, secrets, existing)
        agent = next((c for c in spec["containers"] if c["name"] == AGENT), None)
        if agent is not None and "SIGSCI_REVPROXY_LISTENER" in env_of(agent):
            problems += _revproxy_problems(where, namespace, labels, spec, objects, config, deployment)
        sidecar = any(c["name"] == AGENT for c in spec.get("initContainers", []))
        if sidecar and not where.startswith("release "):  # an app's pod: a module's (the ingress's are judged above)
            problems += _module_app_problems(where, namespace, deployment, labels, spec, objects, config)
    return problems
