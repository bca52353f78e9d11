"""Prove, after `pulumi up`, that the WAF inspects each entry of a stack: one marked request through each.

Every entry the stack's outputs declare (`pulumi stack output --json`) gets one request,
`GET <prefix>/sigsci-verify/<random>` with `x-sigsci-force-inspection: true` and a random marker header: each app
of `apps` through a `kubectl port-forward` to the Service its clients use; the ingress controller and the Gateway
at their load-balancer address, or through a port-forward to their Service when they have none. Then it looks for
proof that an agent decided on that very request:

- echo: the upstream answered with the request it received (the marker header comes back), and that request
  carried `X-SigSci-RequestID` and `X-SigSci-AgentResponse` (any case), which only the module or the agent adds:
  200 is an allow, 301 and above a block; both are inspected. The marker echoed without them: not inspected.
- access log: for reverse-proxy apps (placements owned, patch, service), an access line holding the marker in
  the `sigsci-agent` container's log of the pods behind the Service (the agent writes them to stdout unless
  `accessLog: false`). Module apps, the ingress controller and the Gateway have echo evidence only. With
  `sigsci:verify` `echo: true` the stack routes `/sigsci-verify` on a host of its own to an echo backend on the
  ingress controller and the Gateway (the `verify` output names it), and their requests are sent to that host.

One row per entry: the entry, how it was reached, the verdict (inspected, not inspected, unknown) and why. An
unknown entry is tried again (`--attempts`); not inspected stands at once, as the finding it is. Exits
0 only when every entry is inspected (or unknown and named by `--allow-unknown`: nothing can prove it), 1
otherwise (unknown is not proven), 2 when it cannot run; what it cannot
run without is said one line each, `missing <what>: <what to do>`, as scripts/preflight.py does. Only the
standard library: it runs with any Python 3.11+, without the project's virtual environment.
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlsplit

FORCE_HEADER = "x-sigsci-force-inspection"
MARKER_HEADER = "x-verify-marker"
REQUEST_ID = "x-sigsci-requestid"
AGENT_RESPONSE = "x-sigsci-agentresponse"
MARKER_PATH = "/sigsci-verify/"
AGENT_CONTAINER = "sigsci-agent"
LISTENER_PORT_NAME = "sigsci-http"
LISTENER_ENV = "SIGSCI_REVPROXY_LISTENER"
REVERSE_PROXY = ("owned", "patch", "service")
ENVOY_GATEWAY_NAMESPACE = "envoy-gateway-system"

INSPECTED, NOT_INSPECTED, UNKNOWN = "inspected", "not inspected", "unknown"

PULUMI_INSTALL = "https://www.pulumi.com/docs/install/"
KUBECTL_INSTALL = "https://kubernetes.io/docs/tasks/tools/"
BODY_LIMIT = 1 << 20


# -- the functional core: what to check, and what a response or a log proves ---------------------------------------

@dataclass(frozen=True)
class Echo:
    """The stack's echo backend (`sigsci:verify`), which the ingress controller and the Gateway route
    `/sigsci-verify` on `host` to."""
    host: str
    namespace: str
    service: str


@dataclass(frozen=True)
class Entry:
    """One thing the stack declares that must inspect its requests."""
    key: str                          # as --route names it: `<namespace>/<name>`, `ingress` or `gateway`
    kind: str                         # app | ingress | gateway
    namespace: str | None = None      # the app's, the ingress release's, or the Gateway's
    service: str | None = None        # the Service clients use (app), the controller's Service (ingress)
    placement: str | None = None
    address: str | None = None        # the ingress controller's loadBalancerAddress
    gateway: str | None = None        # the Gateway's name
    problem: str | None = None        # why it cannot be checked at all, from the outputs alone
    echo: Echo | None = None          # the stack's echo, which this entry routes to (ingress, gateway)

    @property
    def label(self) -> str:
        if self.kind == "app":
            return f"app {self.key} ({self.placement})"
        return f"{self.kind} {self.namespace}/{self.gateway if self.kind == 'gateway' else self.service}"

    @property
    def log_evidence(self) -> bool:
        """Reverse-proxy agents write an access line per request; module, ingress and gateway agents do not."""
        return self.kind == "app" and self.placement in REVERSE_PROXY


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value != "[secret]" else None


def echo_of(outputs: dict[str, Any]) -> tuple[Echo | None, str]:
    """The stack's echo backend from the `verify` output, and a note where the output is there but unusable."""
    verify = outputs.get("verify")
    if verify is None:
        return None, ""
    echo = verify.get("echo") if isinstance(verify, dict) else None
    fields = [_text(echo.get(k)) for k in ("host", "path", "namespace", "service")] if isinstance(echo, dict) else []
    if len(fields) == 4 and all(fields) and fields[1] == MARKER_PATH.rstrip("/"):
        return Echo(fields[0], fields[2], fields[3]), ""
    return None, (f"verify: the output is {verify!r}, not an echo's host, path {MARKER_PATH.rstrip('/')}, namespace "
                  "and service: the ingress controller and the Gateway are sent requests without its host")


def plan(outputs: dict[str, Any]) -> tuple[list[Entry], list[str]]:
    """The entries to check, from `pulumi stack output --json`, and notes on what is not checked."""
    entries: list[Entry] = []
    echo, note = echo_of(outputs)
    notes: list[str] = [note] if note else []
    apps = outputs.get("apps") or {}
    if not isinstance(apps, dict):
        notes.append(f"apps: the output is {apps!r}, not a map of apps: no app checked")
        apps = {}
    for key in sorted(apps):
        app = apps[key] if isinstance(apps[key], dict) else {}
        namespace, service, placement = _text(app.get("namespace")), _text(app.get("service")), \
            _text(app.get("placement"))
        problem = None
        if namespace is None or placement is None:
            problem = f"its outputs name no namespace or placement ({app!r})"
        elif service is None:
            problem = ("no Service of the stack to send a request to (a module added to an existing Deployment "
                       "keeps the owner's Service): check it through a route to it")
        entries.append(Entry(key, "app", namespace, service, placement, problem=problem))
    ingress = outputs.get("ingress")
    if isinstance(ingress, dict):
        namespace, service = _text(ingress.get("namespace")), _text(ingress.get("serviceName"))
        address = _text(ingress.get("loadBalancerAddress"))
        entries.append(Entry("ingress", "ingress", namespace, service, address=address, echo=echo,
                             problem=None if namespace and service else
                             f"its outputs name no namespace or serviceName ({ingress!r})"))
    gateway = outputs.get("gateway")
    if isinstance(gateway, dict):
        namespace, name = _text(gateway.get("gatewayNamespace")), _text(gateway.get("gatewayName"))
        entries.append(Entry("gateway", "gateway", namespace, gateway=name, echo=echo,
                             problem=None if namespace and name else
                             f"its outputs name no gatewayNamespace or gatewayName ({gateway!r})"))
    injection = outputs.get("injection")
    if isinstance(injection, dict):
        notes.append("injection: not checked here; it has no Service of its own (labelled pods get their agent at "
                     "admission): check a labelled app through a route to it")
    return entries, notes


@dataclass(frozen=True)
class Route:
    """Where a request goes on an entry: scheme, Host (and TLS name), and a path prefix that routes to an echo."""
    scheme: str = "http"
    host: str | None = None
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> Route:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"{url!r} is not an http:// or https:// URL of a host and an optional path")
        return cls(parts.scheme, parts.hostname, parts.path.rstrip("/"))

    def path(self, token: str) -> str:
        return f"{self.prefix}{MARKER_PATH}{token}"


@dataclass(frozen=True)
class Http:
    """What came back from the request: a status and body, or why there was no answer."""
    status: int | None
    body: bytes = b""
    error: str | None = None


@dataclass(frozen=True)
class Evidence:
    """One source's finding: INSPECTED, NOT_INSPECTED, UNKNOWN (it says something is off) or None (it is silent)."""
    outcome: str | None
    why: str


@dataclass(frozen=True)
class Verdict:
    verdict: str
    why: str


_TEXT_HEADER = re.compile(r"^[ \t]*\"?([A-Za-z0-9-]+)\"?[ \t]*[:=][ \t]*(.*?)[ \t]*,?$", re.MULTILINE)
_WATCHED = (REQUEST_ID, AGENT_RESPONSE, MARKER_HEADER)


def _collect(value: Any, found: dict[str, list[str]]) -> None:
    """Every watched header in a JSON echo, at any depth: `{"headers": {"X-Sigsci-Requestid": "…"}}`,
    `{"X-Sigsci-Requestid": ["…"]}`, or `[{"name": "x-sigsci-requestid", "value": "…"}]`."""
    if isinstance(value, dict):
        name = value.get("name", value.get("key"))
        if isinstance(name, str) and name.lower() in _WATCHED and "value" in value:
            _add(found, name.lower(), value["value"])
        for key, item in value.items():
            if isinstance(key, str) and key.lower() in _WATCHED:
                _add(found, key.lower(), item)
            _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)


def _add(found: dict[str, list[str]], name: str, value: Any) -> None:
    values = value if isinstance(value, list) else [value]
    found.setdefault(name, []).extend(str(v).strip() for v in values if isinstance(v, (str, int)))


def echoed_headers(body: bytes) -> dict[str, list[str]]:
    """The watched request headers an echoing upstream sent back in its body, by lower-case name.

    Echo servers answer with JSON (headers as a map, at any depth, or as name/value pairs) or as text lines
    (`Name: value`, `name=value`); header names are matched without regard to case, since the module or a
    proxy may change it.
    """
    text = body.decode("utf-8", "replace")
    found: dict[str, list[str]] = {}
    try:
        _collect(json.loads(text), found)
    except ValueError:
        pass
    if not found:
        for name, value in _TEXT_HEADER.findall(text):
            if name.lower() in _WATCHED:
                _add(found, name.lower(), value.strip().strip('"'))
    return found


def agent_decision(value: str) -> str | None:
    """`allow` for 200, `block` for 301 and above (both decisions of an agent); None for anything else."""
    try:
        code = int(value.strip())
    except ValueError:
        return None
    if code == 200:
        return "allow"
    return "block" if code >= 301 else None


def echo_evidence(http: Http, marker: str) -> Evidence:
    """What the answer to the marked request proves about it."""
    if http.status is None:
        return Evidence(None, f"no answer: {http.error}")
    headers = echoed_headers(http.body)
    if marker not in headers.get(MARKER_HEADER, []):
        return Evidence(None, f"HTTP {http.status} without an echo of the request: no upstream that echoes "
                              "request headers answered this path")
    request_ids, responses = headers.get(REQUEST_ID, []), headers.get(AGENT_RESPONSE, [])
    if not request_ids and not responses:
        return Evidence(NOT_INSPECTED, "the upstream echoed the request without X-SigSci-RequestID or "
                                       "X-SigSci-AgentResponse: it reached the app uninspected")
    if not request_ids or not responses:
        missing = "X-SigSci-RequestID" if not request_ids else "X-SigSci-AgentResponse"
        return Evidence(UNKNOWN, f"the echoed request lacks {missing}")
    decision = agent_decision(responses[0])
    if decision is None:
        return Evidence(UNKNOWN, f"X-SigSci-AgentResponse {responses[0]!r} is neither an allow (200) nor a block "
                                 "(301 and above)")
    return Evidence(INSPECTED, f"echoed X-SigSci-RequestID {request_ids[0]} and X-SigSci-AgentResponse "
                               f"{responses[0]} ({decision})")


@dataclass(frozen=True)
class AgentPod:
    """A pod behind the Service, with what its `sigsci-agent` container says about access logging."""
    name: str
    has_agent: bool
    access_log: bool | None = None    # None: the listener's setting could not be read
    listener_ports: tuple = ()        # the agent's containerPort numbers and names


def agent_pods(pods: dict[str, Any]) -> list[AgentPod]:
    """The pods of a `kubectl get pods -o json` list, read for their agent container."""
    found = []
    for pod in pods.get("items") or []:
        spec = pod.get("spec") or {}
        agents = [c for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
                  if c.get("name") == AGENT_CONTAINER]
        name = (pod.get("metadata") or {}).get("name", "?")
        if not agents:
            found.append(AgentPod(name, False))
            continue
        agent = agents[0]
        listener = next((e.get("value") for e in agent.get("env") or [] if e.get("name") == LISTENER_ENV), None)
        access_log = None if not isinstance(listener, str) else "access-log=" in listener
        ports = tuple(x for p in agent.get("ports") or [] for x in (p.get("containerPort"), p.get("name")) if x)
        found.append(AgentPod(name, True, access_log, ports))
    return found


def log_evidence(pods: list[AgentPod], logs: dict[str, str | None], marker: str, answered: bool) -> Evidence:
    """What the agents' access logs prove about the marked request. `logs`: each agent pod's log, None where it
    could not be read; `answered`: the request got an HTTP answer (through whichever pod the forward picked)."""
    if not pods:
        return Evidence(None, "no pod behind the Service, so no agent log to read")
    agents = [p for p in pods if p.has_agent]
    if not agents:
        return Evidence(NOT_INSPECTED, f"the pods behind the Service ({', '.join(p.name for p in pods)}) run no "
                                       f"{AGENT_CONTAINER} container")
    for pod in agents:
        text = logs.get(pod.name)
        if text is not None and any(marker in line for line in text.splitlines()):
            return Evidence(INSPECTED, f"access line for the marker in the {AGENT_CONTAINER} log of pod {pod.name}")
    if all(p.access_log is False for p in agents):
        return Evidence(None, "the agent's access log is off (accessLog: false), so no log evidence")
    unread = [p.name for p in agents if logs.get(p.name) is None]
    if unread:
        return Evidence(None, f"no access line for the marker; the log of pod {', '.join(unread)} could not be read")
    if not answered:
        return Evidence(None, "no access line for the marker, and the request got no answer")
    if any(p.access_log is None for p in agents):
        return Evidence(None, "no access line for the marker, and the agent's access-log setting could not be read")
    return Evidence(NOT_INSPECTED, f"answered, but no {AGENT_CONTAINER} access log of the pods behind the Service "
                                   f"({', '.join(p.name for p in agents)}) has the marker")


def decide(evidence: list[Evidence], context: str = "") -> Verdict:
    """One verdict from every source: inspected on proof, unless another source disagrees."""
    said = [e for e in evidence if e.outcome is not None]
    proof = [e for e in said if e.outcome == INSPECTED]
    doubt = [e for e in said if e.outcome != INSPECTED]
    if proof and doubt:
        return Verdict(UNKNOWN, _join(["the evidence disagrees", *(e.why for e in said), context]))
    if proof:
        return Verdict(INSPECTED, _join([*(e.why for e in proof), context]))
    if any(e.outcome == NOT_INSPECTED for e in doubt):
        return Verdict(NOT_INSPECTED, _join([*(e.why for e in doubt), context]))
    return Verdict(UNKNOWN, _join([*(e.why for e in evidence), context]))


def _join(parts: list[str]) -> str:
    return "; ".join(p for p in parts if p)


def service_port(service: dict[str, Any], targets: tuple = (), *, https: bool = False) -> tuple[int | None, str]:
    """The Service port to send to, and a note: the one that targets the agent's listener (`targets`), else the
    one named or numbered for HTTP (or HTTPS), else the first."""
    ports = [p for p in (service.get("spec") or {}).get("ports") or [] if p.get("protocol", "TCP") == "TCP"]
    if not ports:
        return None, "the Service has no TCP port"
    if targets:
        for port in ports:
            if port.get("targetPort", port.get("port")) in targets:
                return port["port"], ""
    wanted = ("https", 443) if https else ("http", 80)
    for port in ports:
        name = str(port.get("name", ""))
        if port.get("port") == wanted[1] or name == wanted[0] or name.startswith(wanted[0] + "-"):
            chosen = port["port"]
            break
    else:
        chosen = ports[0]["port"]
    note = ""
    if targets:
        named = ", ".join(str(t) for t in targets)
        note = f"no port of the Service targets the agent's listener ({named})"
    return chosen, note


def load_balancer_address(service: dict[str, Any]) -> str | None:
    for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        address = ingress.get("ip") or ingress.get("hostname")
        if address:
            return address
    return None


@dataclass(frozen=True)
class Row:
    entry: str
    reached: str
    verdict: str
    why: str
    allowed: bool = False  # an unknown verdict that --allow-unknown lets pass


def table(rows: list[Row]) -> str:
    head = Row("entry", "reached through", "verdict", "why")
    widths = [max(len(getattr(r, f)) for r in [head, *rows]) for f in ("entry", "reached", "verdict")]
    lines = []
    for row in [head, *rows]:
        cells = [row.entry.ljust(widths[0]), row.reached.ljust(widths[1]), row.verdict.ljust(widths[2]), row.why]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# -- the shell: pulumi and kubectl through a runner, HTTP with the standard library ---------------------------------

@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


class PortForwardError(Exception):
    pass


class Runner(Protocol):
    def which(self, name: str) -> str | None: ...

    def run(self, argv: list[str], timeout: float = 60) -> Completed: ...

    def port_forward(self, argv: list[str], timeout: float = 30) -> AbstractContextManager[tuple[str, int]]: ...


_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")


class SubprocessRunner:
    """The real tools, on PATH."""

    def which(self, name: str) -> str | None:
        return shutil.which(name)

    def run(self, argv: list[str], timeout: float = 60) -> Completed:
        try:
            done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Completed(124, "", f"{argv[0]} did not finish within {timeout:g} s")
        except OSError as error:
            return Completed(127, "", str(error))
        return Completed(done.returncode, done.stdout, done.stderr)

    @contextmanager
    def port_forward(self, argv: list[str], timeout: float = 30) -> Iterator[tuple[str, int]]:
        """`kubectl port-forward ... :<port>` until the block ends; yields the local loopback address."""
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   stdin=subprocess.DEVNULL)
        lines: queue.Queue = queue.Queue()

        def pump(stream, tag):
            for line in stream:
                lines.put((tag, line))
            lines.put((tag, None))

        for stream, tag in ((process.stdout, "out"), (process.stderr, "err")):
            threading.Thread(target=pump, args=(stream, tag), daemon=True).start()
        try:
            local, errors, closed = None, [], 0
            deadline = time.monotonic() + timeout
            while local is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PortForwardError(f"no forwarding within {timeout:g} s")
                try:
                    tag, line = lines.get(timeout=left)
                except queue.Empty:
                    continue
                if line is None:
                    closed += 1
                    if closed == 2:
                        raise PortForwardError(_first_line("\n".join(errors)) or "kubectl port-forward exited")
                elif tag == "err":
                    errors.append(line)
                elif (match := _FORWARDING.search(line)):
                    local = int(match.group(1))
            yield "127.0.0.1", local
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


class _Https(http.client.HTTPSConnection):
    """HTTPS to an address with another name for SNI and the certificate check (a Host behind a load balancer)."""

    def __init__(self, address: str, port: int, server_name: str, **kwargs):
        super().__init__(address, port, **kwargs)
        self.server_name = server_name

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.server_name)


def send(address: str, port: int, path: str, marker: str, *, route: Route = Route(), timeout: float = 10,
         cafile: str | None = None) -> Http:
    """The marked request, with the standard library; any failure becomes the reason there was no answer."""
    headers = {FORCE_HEADER: "true", MARKER_HEADER: marker, "User-Agent": "sigsci-verify",
               "Accept": "application/json, text/plain, */*"}
    if route.host:
        headers["Host"] = route.host
    try:
        if route.scheme == "https":
            context = ssl.create_default_context(cafile=cafile)
            connection: http.client.HTTPConnection = _Https(address, port, route.host or address,
                                                            timeout=timeout, context=context)
        else:
            connection = http.client.HTTPConnection(address, port, timeout=timeout)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            return Http(response.status, response.read(BODY_LIMIT))
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ssl.SSLError) as error:
        return Http(None, error=f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)


@dataclass
class Settings:
    stack: str
    routes: dict[str, Route] = field(default_factory=dict)
    context: str | None = None
    envoy_gateway_namespace: str = ENVOY_GATEWAY_NAMESPACE
    attempts: int = 3
    interval: float = 5
    log_wait: float = 10
    timeout: float = 10
    cafile: str | None = None
    allow_unknown: frozenset[str] = frozenset()


class Verifier:
    def __init__(self, settings: Settings, runner: Runner, *, sleep: Callable[[float], None] = time.sleep,
                 token: Callable[[], str] = lambda: secrets.token_hex(8), sender: Callable[..., Http] = send):
        self.settings, self.runner, self.sleep, self.token, self.sender = settings, runner, sleep, token, sender

    def kubectl(self, *args: str) -> list[str]:
        context = ["--context", self.settings.context] if self.settings.context else []
        return ["kubectl", *context, *args]

    def get_json(self, *args: str) -> tuple[dict | None, str]:
        done = self.runner.run(self.kubectl(*args, "--output", "json"))
        if done.returncode != 0:
            return None, f"kubectl {' '.join(args[:3])} failed: {_first_line(done.stderr) or done.returncode}"
        try:
            return json.loads(done.stdout), ""
        except ValueError:
            return None, f"kubectl {' '.join(args[:3])} did not answer JSON"

    # -- what must be there before anything is checked

    def missing(self, need_pulumi: bool) -> list[str]:
        found = []
        if need_pulumi and self.runner.which("pulumi") is None:
            found.append(f"missing Pulumi CLI: install it ({PULUMI_INSTALL}) and run the command again")
        if self.runner.which("kubectl") is None:
            found.append(f"missing kubectl: install it ({KUBECTL_INSTALL}) and run the command again")
        elif self.settings.context:
            if self.runner.run(["kubectl", "config", "get-contexts", self.settings.context]).returncode != 0:
                found.append(f"missing kube context '{self.settings.context}' (--context): run `kubectl config "
                             "get-contexts` and name one of them")
        else:
            done = self.runner.run(self.kubectl("config", "current-context"))
            if done.returncode != 0:
                found.append("missing kube context: point KUBECONFIG (or ~/.kube/config) at your cluster and run "
                             "`kubectl config use-context <name>`")
        return found

    def outputs(self) -> tuple[dict | None, str]:
        stack = self.settings.stack
        done = self.runner.run(["pulumi", "stack", "output", "--json", "--non-interactive", "--stack", stack])
        if done.returncode != 0:
            return None, (f"missing outputs of stack '{stack}': `pulumi stack output` said "
                          f"{_first_line(done.stderr) or 'nothing'!r}; run `make up STACK={stack}` first, with "
                          "PULUMI_BACKEND_URL naming the stack's backend")
        try:
            outputs = json.loads(done.stdout or "{}")
        except ValueError:
            return None, f"missing outputs of stack '{stack}': `pulumi stack output --json` did not answer JSON"
        if not isinstance(outputs, dict) or not outputs:
            return None, f"missing outputs of stack '{stack}': it has none; run `make up STACK={stack}` first"
        return outputs, ""

    # -- one entry

    def check(self, entry: Entry) -> Row:
        if entry.problem:
            return Row(entry.label, "not reached", UNKNOWN, entry.problem)
        row = None
        # An entry allowed to stay unknown (nothing can prove it) is tried once: waiting would not prove it.
        tries = 1 if entry.key in self.settings.allow_unknown else max(1, self.settings.attempts)
        for attempt in range(tries):
            if attempt:
                self.sleep(self.settings.interval)
            row = self.attempt(entry)
            # Only the unproven is tried again: a request that passed uninspected is a finding, not a hiccup.
            if row.verdict != UNKNOWN:
                break
        if row.verdict == UNKNOWN and tries > 1:
            row = Row(row.entry, row.reached, row.verdict, f"{row.why} (the last of {tries} tries)")
        return row

    def attempt(self, entry: Entry) -> Row:
        route = self.settings.routes.get(entry.key) or (Route(host=entry.echo.host) if entry.echo else Route())
        if entry.kind == "app":
            return self.app(entry, route)
        if entry.kind == "ingress":
            return self.front(entry, route, *self.ingress_service(entry))
        return self.front(entry, route, *self.gateway_service(entry))

    def marked(self, route: Route) -> tuple[str, str]:
        token = self.token()
        return token, route.path(token)

    def app(self, entry: Entry, route: Route) -> Row:
        assert entry.namespace and entry.service
        service, error = self.get_json("get", "service", entry.service, "--namespace", entry.namespace)
        where = f"port-forward service/{entry.service} in {entry.namespace}"
        if service is None:
            return Row(entry.label, where, UNKNOWN, error)
        pods: list[AgentPod] = []
        if entry.log_evidence:
            selector = ",".join(f"{k}={v}" for k, v in sorted(((service.get("spec") or {}).get("selector")
                                                               or {}).items()))
            if not selector:
                return Row(entry.label, where, UNKNOWN, "the Service has no selector, so no pods to read logs of")
            listed, error = self.get_json("get", "pods", "--namespace", entry.namespace, "--selector", selector)
            if listed is None:
                return Row(entry.label, where, UNKNOWN, error)
            pods = agent_pods(listed)
        targets = tuple(dict.fromkeys(t for p in pods for t in p.listener_ports))
        port, note = service_port(service, targets, https=route.scheme == "https")
        if port is None:
            return Row(entry.label, where, UNKNOWN, note)
        where = f"port-forward service/{entry.service}:{port} in {entry.namespace}"
        token, path = self.marked(route)
        answer = self.forward_and_send(entry.namespace, f"service/{entry.service}", port, path, token, route)
        evidence = [echo_evidence(answer, token)]
        if entry.log_evidence:
            evidence.append(self.logs(entry.namespace, pods, token, answer.status is not None))
        else:
            note = _join([note, "placement module: the agent writes no access line, so only echo evidence applies"])
        return Row(entry.label, where + _host(route), *_cells(decide(evidence, note)))

    def forward_and_send(self, namespace: str, target: str, port: int, path: str, token: str, route: Route) -> Http:
        argv = self.kubectl("port-forward", "--namespace", namespace, "--address", "127.0.0.1", target, f":{port}")
        try:
            with self.runner.port_forward(argv) as (address, local):
                return self.sender(address, local, path, token, route=route, timeout=self.settings.timeout,
                                   cafile=self.settings.cafile)
        except PortForwardError as error:
            return Http(None, error=f"port-forward to {target}:{port} failed: {error}")

    def logs(self, namespace: str, pods: list[AgentPod], token: str, answered: bool) -> Evidence:
        """Read the agents' logs until the marker shows or `log_wait` passes (the line may come a little later)."""
        waited = 0.0
        while True:
            logs: dict[str, str | None] = {}
            for pod in pods:
                if pod.has_agent:
                    done = self.runner.run(self.kubectl("logs", "--namespace", namespace, pod.name,
                                                        "--container", AGENT_CONTAINER, "--since", "10m"))
                    logs[pod.name] = done.stdout if done.returncode == 0 else None
            found = log_evidence(pods, logs, token, answered)
            if found.outcome == INSPECTED or waited >= self.settings.log_wait or not answered \
                    or not any(p.has_agent for p in pods):
                return found
            self.sleep(2)
            waited += 2

    # -- the ingress controller and the Gateway: their Service, then the address or a port-forward

    def ingress_service(self, entry: Entry) -> tuple[str | None, dict | None, str]:
        assert entry.namespace and entry.service
        service, error = self.get_json("get", "service", entry.service, "--namespace", entry.namespace)
        return entry.namespace, service, error

    def gateway_service(self, entry: Entry) -> tuple[str | None, dict | None, str]:
        """Envoy Gateway's Service for the Gateway (in its own namespace, or the Gateway's), else Istio's."""
        assert entry.namespace and entry.gateway
        searches = [
            (namespace, (f"gateway.envoyproxy.io/owning-gateway-name={entry.gateway},"
                         f"gateway.envoyproxy.io/owning-gateway-namespace={entry.namespace}"))
            for namespace in dict.fromkeys([self.settings.envoy_gateway_namespace, entry.namespace])
        ] + [(entry.namespace, f"gateway.networking.k8s.io/gateway-name={entry.gateway}")]
        errors = []
        for namespace, selector in searches:
            listed, error = self.get_json("get", "services", "--namespace", namespace, "--selector", selector)
            if listed is None:
                errors.append(error)
                continue
            items = listed.get("items") or []
            if items:
                return namespace, items[0], ""
        looked = ", ".join(dict.fromkeys(n for n, _ in searches))
        missing = (f"no Service of Gateway {entry.namespace}/{entry.gateway} in namespaces {looked} (Envoy "
                   "Gateway's or Istio's labels); if Envoy Gateway runs elsewhere, pass --envoy-gateway-namespace")
        return None, None, _join([missing, *errors])

    def front(self, entry: Entry, route: Route, namespace: str | None, service: dict | None, error: str) -> Row:
        https = route.scheme == "https"
        address = entry.address if entry.kind == "ingress" else (load_balancer_address(service) if service else None)
        if service is None and address is None:
            return Row(entry.label, "not reached", UNKNOWN, error)
        if service is not None:
            port, note = service_port(service, https=https)
        else:
            port, note = (443 if https else 80), f"port {443 if https else 80} assumed ({error})"
        if port is None:
            return Row(entry.label, "not reached", UNKNOWN, note)
        token, path = self.marked(route)
        if address:
            where = f"{route.scheme}://{address}:{port} (load-balancer address)"
            answer = self.sender(address, port, path, token, route=route, timeout=self.settings.timeout,
                                 cafile=self.settings.cafile)
        else:
            name = service["metadata"]["name"]
            where = f"port-forward service/{name}:{port} in {namespace}"
            answer = self.forward_and_send(namespace, f"service/{name}", port, path, token, route)
        context = _join([note, "only echo evidence applies (the agents write no access line for it)"])
        found = echo_evidence(answer, token)
        if answer.status is not None and found.outcome is None:
            context = _join([context, no_echo_hint(entry, route)])
        return Row(entry.label, where + _host(route), *_cells(decide([found], context)))

    # -- all of it

    def run(self, outputs: dict[str, Any]) -> tuple[list[Row], list[str]]:
        entries, notes = plan(outputs)
        keys = {e.key for e in entries}
        for option, named in (("--route", self.settings.routes), ("--allow-unknown", self.settings.allow_unknown)):
            unknown = sorted(set(named) - keys)
            if unknown:
                notes.append(f"{option} names no entry of the stack: {', '.join(unknown)}")
        rows = []
        for entry in entries:
            row = self.check(entry)
            if row.verdict == UNKNOWN and entry.key in self.settings.allow_unknown:
                row = replace(row, why=f"{row.why}; allowed to stay unknown (--allow-unknown)", allowed=True)
            rows.append(row)
        return rows, notes


def no_echo_hint(entry: Entry, route: Route) -> str:
    """What to look at when the ingress controller or the Gateway answered without an echo of the request."""
    path = MARKER_PATH.rstrip("/")
    echo = entry.echo
    if echo is not None and route == Route(host=echo.host):
        return (f"the stack routes {path} on host {echo.host} to its echo {echo.namespace}/{echo.service}, which did "
                "not answer: the route is not served yet, or the echo is not ready (kubectl get pods --namespace "
                f"{echo.namespace})")
    if route.prefix or route.host:
        return ""
    return (f"set sigsci:verify echo: true, or route {path} to a Service that echoes request headers, or pass "
            f"--route {entry.key}=URL (docs/operations.md#proving-inspection)")


def _host(route: Route) -> str:
    return f", Host {route.host}" if route.host else ""


def _cells(verdict: Verdict) -> tuple[str, str]:
    return verdict.verdict, verdict.why


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the stack whose outputs name the entries")
    parser.add_argument("--outputs", metavar="FILE",
                        help="read the outputs from this file (`pulumi stack output --json`) instead of Pulumi")
    parser.add_argument("--route", action="append", default=[], metavar="ENTRY=URL",
                        help="send ENTRY's request with this URL's scheme, Host and path prefix (ENTRY: ingress, "
                             "gateway or <namespace>/<name> of an app), e.g. ingress=https://shop.example.com/catalog")
    parser.add_argument("--context", help="the kube context kubectl uses (default: the current one)")
    parser.add_argument("--envoy-gateway-namespace", default=ENVOY_GATEWAY_NAMESPACE,
                        help="where Envoy Gateway puts the Gateway's Service (sigsci:gateway envoyGateway.namespace)")
    parser.add_argument("--attempts", type=int, default=3, help="tries per entry before its verdict stands")
    parser.add_argument("--interval", type=float, default=5, help="seconds between tries")
    parser.add_argument("--log-wait", type=float, default=10, help="seconds to wait for the agent's access line")
    parser.add_argument("--timeout", type=float, default=10, help="seconds to wait for each HTTP answer")
    parser.add_argument("--cafile", help="CA certificates for https:// routes (default: the system's)")
    parser.add_argument("--allow-unknown", action="append", default=[], metavar="ENTRY[,ENTRY...]",
                        help="these entries may stay unknown without failing the run: entries nothing can prove, such "
                             "as a module app whose app does not echo request headers (not inspected still fails)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, runner: Runner | None = None, **verifier: Any) -> int:
    args = parse_args(argv)
    routes = {}
    for item in args.route:
        key, _, url = item.partition("=")
        try:
            routes[key] = Route.parse(url)
        except ValueError as error:
            print(f"--route {item}: {error}", file=sys.stderr)
            return 2
    allowed = frozenset(key for item in args.allow_unknown for key in item.split(",") if key)
    settings = Settings(args.stack, routes, args.context, args.envoy_gateway_namespace, args.attempts,
                        args.interval, args.log_wait, args.timeout, args.cafile, allowed)
    check = Verifier(settings, runner or SubprocessRunner(), **verifier)
    found = check.missing(need_pulumi=args.outputs is None)
    if found:
        print(f"Cannot verify stack '{args.stack}' yet:", file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    if args.outputs:
        try:
            with open(args.outputs, encoding="utf-8") as file:
                outputs, error = json.load(file), ""
        except (OSError, ValueError) as failure:
            outputs, error = None, f"missing outputs in {args.outputs}: {failure}"
    else:
        outputs, error = check.outputs()
    if outputs is None:
        print(f"Cannot verify stack '{args.stack}' yet:\n  - {error}", file=sys.stderr)
        return 2
    rows, notes = check.run(outputs)
    if not rows:
        print(f"Stack '{args.stack}' declares no app, ingress or gateway: nothing was proven.", file=sys.stderr)
        for note in notes:
            print(f"  - {note}", file=sys.stderr)
        return 1
    print(table(rows))
    for note in notes:
        print(f"note: {note}")
    proven = sum(r.verdict == INSPECTED for r in rows)
    allowed_rows = [r.entry for r in rows if r.allowed]
    also = f"; {len(allowed_rows)} allowed to stay unknown ({', '.join(allowed_rows)})" if allowed_rows else ""
    print(f"{proven} of {len(rows)} entries of stack '{args.stack}' proven inspected{also}")
    return 0 if proven + len(allowed_rows) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
