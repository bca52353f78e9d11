"""`make verify` (scripts/verify.py): proof that each entry of a stack inspects a marked request.

No cluster: the stack's outputs and kubectl's answers are recorded files (tests/verify_fixtures/), read by a fake
runner, and every request goes to HTTP servers of the test on 127.0.0.1: echo upstreams that send back the
request they received (as JSON, as text lines, or not at all), and stand-ins for the WAF in front of them that
add `X-SigSci-RequestID` and `X-SigSci-AgentResponse` (in whatever case) and, like a reverse-proxy agent, write
an access line the fake `kubectl logs` returns. A stand-in that adds nothing is a request passed uninspected.
The stack's echo backend (`sigsci:verify`) is an upstream that answers in the shape of its image's JSON
(tests/verify_fixtures/echo/).
"""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import os
import socket
import stat
import sys
import threading
import time
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import harness

_spec = importlib.util.spec_from_file_location("verify", harness.ROOT / "scripts" / "verify.py")
verify = importlib.util.module_from_spec(_spec)
sys.modules["verify"] = verify  # dataclasses resolve their annotations through the module
_spec.loader.exec_module(verify)

FIXTURES = Path(__file__).parent / "verify_fixtures"
OUTPUTS = FIXTURES / "outputs.json"


def _outputs() -> dict:
    return json.loads(OUTPUTS.read_text())


def _kubectl() -> dict[str, dict]:
    index = json.loads((FIXTURES / "kubectl" / "commands.json").read_text())
    return {command: json.loads((FIXTURES / "kubectl" / name).read_text()) for command, name in index.items()}


# -- loopback servers ----------------------------------------------------------------------------------------------

class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server:
    """A ThreadingHTTPServer on 127.0.0.1, port 0, running until the test ends."""

    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.address = self.httpd.server_address[:2]
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def echo(style: str = "json"):
    """An upstream: `json` answers the request's path and headers as JSON, `text` as `Name: value` lines,
    `plain` does not echo at all."""

    class Echo(_Quiet):
        def do_GET(self):
            if style == "json":
                self.reply(200, json.dumps({"request": {"path": self.path, "headers": dict(self.headers)}}).encode(),
                           "application/json")
            elif style == "text":
                lines = [f"GET {self.path} HTTP/1.1", *(f"{k}: {v}" for k, v in self.headers.items())]
                self.reply(200, "\n".join(lines).encode())
            else:
                self.reply(200, b"Hello, world\n")
    return Echo


class Waf:
    """A stand-in for what sits in front of the upstream: adds the agent's headers (`inspect`), answers the
    agent's decision, writes an access line per request (`access_log`), like a reverse-proxy agent."""

    def __init__(self, upstream: tuple[str, int], *, inspect: bool = True, response: str = "200",
                 access_log: bool = False, case: str = "lower"):
        self.upstream, self.inspect, self.response, self.access_log = upstream, inspect, response, access_log
        self.names = {"lower": ("x-sigsci-requestid", "x-sigsci-agentresponse"),
                      "upper": ("X-SIGSCI-REQUESTID", "X-SIGSCI-AGENTRESPONSE"),
                      "title": ("X-Sigsci-Requestid", "X-Sigsci-Agentresponse")}[case]
        self.lines: list[str] = []
        waf = self

        class Proxy(_Quiet):
            def do_GET(self):
                headers = dict(self.headers.items())  # Host too, as the controllers pass it upstream
                if waf.inspect:
                    headers[waf.names[0]] = "6cdb3ad0-ac5e-4a5c-8a0f-0f7a0f5e3b1d"
                    headers[waf.names[1]] = waf.response
                connection = HTTPConnection(*waf.upstream, timeout=5)
                connection.request("GET", self.path, headers=headers)
                answer = connection.getresponse()
                body = answer.read()
                connection.close()
                if waf.access_log:
                    waf.lines.append(f'127.0.0.1 - - [04/Dec/2026:19:12:01 +0000] "GET {self.path} HTTP/1.1" '
                                     f'{answer.status} {len(body)} "-" "sigsci-verify"')
                self.reply(answer.status, body, answer.getheader("Content-Type", "text/plain"))

        self.handler = Proxy


@pytest.fixture
def servers():
    started: list[Server] = []

    def start(handler) -> tuple[str, int]:
        server = Server(handler)
        started.append(server)
        return server.address

    yield start
    for server in started:
        server.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- a fake runner on recorded kubectl answers ---------------------------------------------------------------------

class FakeRunner:
    """kubectl and pulumi as recorded: `kubectl get` from the fixture files, `kubectl logs` from the stand-ins'
    access lines, `port-forward` to the loopback server registered for `<namespace>/<target>`."""

    def __init__(self, forwards: dict[str, tuple[str, int]] | None = None, logs: dict[str, Waf] | None = None,
                 tools: tuple[str, ...] = ("pulumi", "kubectl"), kubectl: dict | None = None,
                 outputs: dict | None = None):
        self.forwards, self.logs, self.tools = forwards or {}, logs or {}, tools
        self.kubectl = _kubectl() if kubectl is None else kubectl
        self.outputs = _outputs() if outputs is None else outputs
        self.calls: list[list[str]] = []
        self.answers: dict[str, verify.Completed] = {}

    def which(self, name):
        return f"/usr/bin/{name}" if name in self.tools else None

    def run(self, argv, timeout=60):
        self.calls.append(argv)
        assert argv[0] in self.tools, argv
        command = " ".join(argv[1:])
        if command in self.answers:
            return self.answers[command]
        if argv[0] == "pulumi":
            assert argv[1:5] == ["stack", "output", "--json", "--non-interactive"], argv
            return verify.Completed(0, json.dumps(self.outputs), "")
        if command == "config current-context":
            return verify.Completed(0, "kind-staging\n", "")
        if "logs" in argv:
            pod = argv[argv.index("--namespace") + 2]
            waf = next((w for prefix, w in self.logs.items() if pod.startswith(prefix)), None)
            lines = [f"2026-12-04T19:12:00Z agent {pod} started"] + (waf.lines if waf else [])
            return verify.Completed(0, "\n".join(lines) + "\n", "")
        if command in self.kubectl:
            return verify.Completed(0, json.dumps(self.kubectl[command]), "")
        return verify.Completed(1, "", f"Error from server (NotFound): no recording of `kubectl {command}`")

    @contextmanager
    def port_forward(self, argv, timeout=30):
        self.calls.append(argv)
        assert argv[argv.index("--address") + 1] == "127.0.0.1", argv  # only ever on loopback
        key = f"{argv[argv.index('--namespace') + 1]}/{argv[-2]}"
        if key not in self.forwards:
            raise verify.PortForwardError(f'error: services "{argv[-2].split("/")[-1]}" not found')
        yield self.forwards[key]


def _main(runner, *args, outputs: Path | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = ["--stack", "staging", "--attempts", "1", "--log-wait", "0", "--timeout", "5", *args]
    if outputs is not None:
        argv += ["--outputs", str(outputs)]
    with redirect_stdout(out), redirect_stderr(err):
        code = verify.main(argv, runner, sleep=lambda s: None)
    return code, out.getvalue(), err.getvalue()


def _rows(stdout: str) -> dict[str, str]:
    """The table's rows by entry: the text after the entry's label."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        for label in ("app payments/payments", "app shop/checkout", "app shop/search", "app shop/storefront",
                      "ingress ", "gateway "):
            if line.startswith(label):
                rows[label.strip()] = line
    return rows


def _verdict(row: str) -> str:
    for verdict in (verify.NOT_INSPECTED, verify.INSPECTED, verify.UNKNOWN):
        if f"  {verdict}  " in row or row.rstrip().endswith(verdict):
            return verdict
    raise AssertionError(row)


def _cluster(servers, **change):
    """Every entry of the recorded stack behind a working WAF stand-in; `change` swaps one entry's target."""
    wafs = {
        "storefront": Waf(servers(echo("plain")), access_log=True, case="title"),      # log evidence only
        "checkout": Waf(servers(echo("json")), access_log=True),                        # echo and log
        "payments": Waf(servers(echo("text")), access_log=True, case="upper"),          # text echo and log
        "search": Waf(servers(echo("json")), case="upper"),                             # module: echo only
        "ingress": Waf(servers(echo("json"))),
        "gateway": Waf(servers(echo("text")), case="title"),
    }
    wafs.update({k: v for k, v in change.items() if isinstance(v, Waf)})
    targets = {
        "shop/service/storefront": "storefront", "shop/service/checkout": "checkout",
        "payments/service/payments": "payments", "shop/service/search": "search",
        "sigsci-ingress/service/sigsci-nginx-ingress-controller": "ingress",
        "envoy-gateway-system/service/envoy-sigsci-gateway-sigsci-gateway-3c2f1a7e": "gateway",
    }
    forwards = {key: servers(wafs[name].handler) for key, name in targets.items()}
    for key, name in targets.items():
        if isinstance(change.get(name), tuple):
            forwards[key] = change[name]
    logs = {"storefront-": wafs["storefront"], "checkout-": wafs["checkout"], "payments-": wafs["payments"]}
    return forwards, logs


# -- the whole run against the recorded stack ----------------------------------------------------------------------

def test_every_entry_inspected(servers):
    forwards, logs = _cluster(servers)
    runner = FakeRunner(forwards, logs)
    code, out, err = _main(runner)
    assert code == 0, out + err
    rows = _rows(out)
    assert len(rows) == 6 and all(_verdict(r) == verify.INSPECTED for r in rows.values()), out
    assert "access line for the marker in the sigsci-agent log of pod storefront-" in rows["app shop/storefront"]
    assert "echoed X-SigSci-RequestID 6cdb3ad0-ac5e-4a5c-8a0f-0f7a0f5e3b1d and X-SigSci-AgentResponse 200 (allow)" \
        in rows["app shop/checkout"]
    assert "only echo evidence applies" in rows["app shop/search"]
    assert "port-forward service/sigsci-nginx-ingress-controller:80 in sigsci-ingress" in rows["ingress"]
    assert "port-forward service/envoy-sigsci-gateway-sigsci-gateway-3c2f1a7e:80 in envoy-gateway-system" \
        in rows["gateway"]
    # The patched Service's port that targets the agent's listener, not its metrics port.
    assert "port-forward service/checkout:80 in shop" in rows["app shop/checkout"]
    assert out.splitlines()[0].split() [:3] == ["entry", "reached", "through"]
    assert "note: injection: not checked here" in out
    assert out.rstrip().endswith("6 of 6 entries of stack 'staging' proven inspected")
    # Each entry's own random marker reached its own stand-in.
    markers = {line.split()[6].rsplit("/", 1)[1] for w in logs.values() for line in w.lines}
    assert len(markers) == 3


def test_outputs_come_from_pulumi_for_the_stack(servers):
    forwards, logs = _cluster(servers)
    runner = FakeRunner(forwards, logs)
    assert _main(runner)[0] == 0
    [pulumi] = [c for c in runner.calls if c[0] == "pulumi"]
    assert pulumi == ["pulumi", "stack", "output", "--json", "--non-interactive", "--stack", "staging"]


def test_one_app_not_inspected_without_the_headers(servers):
    forwards, logs = _cluster(servers, search=Waf(servers(echo("json")), inspect=False))
    code, out, _ = _main(FakeRunner(forwards, logs))
    assert code == 1
    rows = _rows(out)
    assert _verdict(rows["app shop/search"]) == verify.NOT_INSPECTED
    assert "echoed the request without X-SigSci-RequestID or X-SigSci-AgentResponse" in rows["app shop/search"]
    assert [name for name, row in rows.items() if _verdict(row) != verify.INSPECTED] == ["app shop/search"]
    assert out.rstrip().endswith("5 of 6 entries of stack 'staging' proven inspected")


def test_straight_to_the_upstream_is_not_inspected(servers):
    """The module's port-forward reaching an echo server directly: the same proof of a missed inspection."""
    forwards, logs = _cluster(servers, search=servers(echo("text")))
    code, out, _ = _main(FakeRunner(forwards, logs))
    assert code == 1 and _verdict(_rows(out)["app shop/search"]) == verify.NOT_INSPECTED


def test_a_block_is_an_inspection(servers):
    forwards, logs = _cluster(servers, search=Waf(servers(echo("json")), response="406"),
                              ingress=Waf(servers(echo("text")), response="301"))
    code, out, _ = _main(FakeRunner(forwards, logs))
    assert code == 0, out
    rows = _rows(out)
    assert "X-SigSci-AgentResponse 406 (block)" in rows["app shop/search"]
    assert "X-SigSci-AgentResponse 301 (block)" in rows["ingress"]


def test_an_agent_response_that_is_no_decision_is_not_proof(servers):
    forwards, logs = _cluster(servers, search=Waf(servers(echo("json")), response="-1"))
    code, out, _ = _main(FakeRunner(forwards, logs))
    row = _rows(out)["app shop/search"]
    assert code == 1 and _verdict(row) == verify.UNKNOWN
    assert "X-SigSci-AgentResponse '-1' is neither an allow (200) nor a block (301 and above)" in row


def test_log_only_evidence(servers):
    """The storefront does not echo: its agent's access line is the proof, and without it there is none."""
    forwards, logs = _cluster(servers)
    code, out, _ = _main(FakeRunner(forwards, logs))
    row = _rows(out)["app shop/storefront"]
    assert _verdict(row) == verify.INSPECTED and "without an echo of the request" not in row
    assert "access line for the marker" in row

    silent = Waf(servers(echo("plain")), access_log=False)  # answered, but no agent logged it: around the WAF
    forwards, logs = _cluster(servers, storefront=silent)
    logs["storefront-"] = silent
    code, out, _ = _main(FakeRunner(forwards, logs))
    row = _rows(out)["app shop/storefront"]
    assert code == 1 and _verdict(row) == verify.NOT_INSPECTED
    assert "no sigsci-agent access log of the pods behind the Service (storefront-7d9c6b5f4-2xk8q, " \
           "storefront-7d9c6b5f4-q7m2n) has the marker" in row


def test_access_log_off_leaves_a_non_echoing_app_unknown(servers):
    kubectl = _kubectl()
    pods = kubectl["get pods --namespace shop --selector app.kubernetes.io/name=storefront --output json"]
    for pod in pods["items"]:
        for env in pod["spec"]["containers"][1]["env"]:
            if env["name"] == "SIGSCI_REVPROXY_LISTENER":
                env["value"] = env["value"].replace(",access-log='/dev/stdout'", "")
    silent = Waf(servers(echo("plain")))
    forwards, logs = _cluster(servers, storefront=silent)
    code, out, _ = _main(FakeRunner(forwards, logs, kubectl=kubectl))
    row = _rows(out)["app shop/storefront"]
    assert code == 1 and _verdict(row) == verify.UNKNOWN
    assert "access log is off (accessLog: false)" in row and "without an echo of the request" in row


def test_pods_without_an_agent_are_not_inspected(servers):
    kubectl = _kubectl()
    pods = kubectl["get pods --namespace shop --selector app=checkout --output json"]
    for pod in pods["items"]:
        pod["spec"]["containers"] = pod["spec"]["containers"][:1]
    forwards, logs = _cluster(servers, checkout=servers(echo("plain")))
    code, out, _ = _main(FakeRunner(forwards, logs, kubectl=kubectl))
    row = _rows(out)["app shop/checkout"]
    assert code == 1 and _verdict(row) == verify.NOT_INSPECTED
    assert "run no sigsci-agent container" in row
    assert "no port of the Service targets the agent's listener" not in row  # none to compare with


def test_unreachable_address(servers):
    """The controller's load-balancer address answers nothing: unknown, with the reason."""
    outputs = _outputs()
    outputs["ingress"]["loadBalancerAddress"] = "127.0.0.1"
    kubectl = _kubectl()
    closed = _closed_port()
    controller = kubectl["get service sigsci-nginx-ingress-controller --namespace sigsci-ingress --output json"]
    controller["spec"]["ports"][0]["port"] = closed
    forwards, logs = _cluster(servers)
    code, out, _ = _main(FakeRunner(forwards, logs, kubectl=kubectl, outputs=outputs))
    row = _rows(out)["ingress"]
    assert code == 1 and _verdict(row) == verify.UNKNOWN
    assert f"http://127.0.0.1:{closed} (load-balancer address)" in row
    assert "no answer: ConnectionRefusedError" in row


def test_a_load_balancer_address_that_echoes_is_used_as_is(servers):
    outputs = _outputs()
    outputs["ingress"]["loadBalancerAddress"] = "127.0.0.1"
    kubectl = _kubectl()
    front = Waf(servers(echo("json")))
    controller = kubectl["get service sigsci-nginx-ingress-controller --namespace sigsci-ingress --output json"]
    controller["spec"]["ports"][0]["port"] = servers(front.handler)[1]
    forwards, logs = _cluster(servers)
    del forwards["sigsci-ingress/service/sigsci-nginx-ingress-controller"]  # no port-forward needed
    code, out, _ = _main(FakeRunner(forwards, logs, kubectl=kubectl, outputs=outputs))
    assert code == 0, out
    assert "(load-balancer address)" in _rows(out)["ingress"]


def test_a_failed_port_forward_is_unknown_with_kubectl_s_reason(servers):
    forwards, logs = _cluster(servers)
    del forwards["envoy-gateway-system/service/envoy-sigsci-gateway-sigsci-gateway-3c2f1a7e"]
    code, out, _ = _main(FakeRunner(forwards, logs))
    row = _rows(out)["gateway"]
    assert code == 1 and _verdict(row) == verify.UNKNOWN
    assert "port-forward to service/envoy-sigsci-gateway-sigsci-gateway-3c2f1a7e:80 failed: error: services" in row


def test_a_front_without_an_echo_says_how_to_get_one(servers):
    """A stack without sigsci:verify's echo: the row says how to get one."""
    outputs = _outputs()
    del outputs["verify"]
    forwards, logs = _cluster(servers, gateway=Waf(servers(echo("plain"))))
    code, out, _ = _main(FakeRunner(forwards, logs, outputs=outputs))
    row = _rows(out)["gateway"]
    assert code == 1 and _verdict(row) == verify.UNKNOWN
    assert "HTTP 200 without an echo of the request" in row and "--route gateway=URL" in row
    assert "set sigsci:verify echo: true" in row


def test_a_gateway_without_a_service(servers):
    kubectl = _kubectl()
    del kubectl["get services --namespace envoy-gateway-system --selector gateway.envoyproxy.io/owning-gateway-name="
                "sigsci-gateway,gateway.envoyproxy.io/owning-gateway-namespace=sigsci-gateway --output json"]
    forwards, logs = _cluster(servers)
    code, out, _ = _main(FakeRunner(forwards, logs, kubectl=kubectl))
    row = _rows(out)["gateway"]
    assert code == 1 and _verdict(row) == verify.UNKNOWN
    assert "no Service of Gateway sigsci-gateway/sigsci-gateway in namespaces envoy-gateway-system, " \
           "sigsci-gateway" in row


def test_a_route_sets_host_and_prefix(servers):
    seen = []

    class Recording(_Quiet):
        def do_GET(self):
            seen.append((self.headers["Host"], self.path))
            self.reply(200, json.dumps({"headers": {**dict(self.headers), "X-SigSci-RequestID": "r1",
                                                    "X-SigSci-AgentResponse": "200"}}).encode())

    forwards, logs = _cluster(servers, ingress=servers(Recording))
    code, out, _ = _main(FakeRunner(forwards, logs), "--route", "ingress=http://shop.example.com/catalog/")
    assert code == 0, out
    [(host, path)] = seen
    assert host == "shop.example.com" and path.startswith("/catalog/sigsci-verify/")
    assert ", Host shop.example.com" in _rows(out)["ingress"]


def test_retries_until_proven(servers):
    """An agent that is not up yet (nothing answers): the next try, a little later, proves it."""
    forwards, logs = _cluster(servers)
    key = "shop/service/search"
    working, forwards[key] = forwards[key], ("127.0.0.1", _closed_port())
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        forwards[key] = working

    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        code = verify.main(["--stack", "staging", "--attempts", "3", "--interval", "7", "--log-wait", "0"],
                           FakeRunner(forwards, logs), sleep=sleep)
    assert code == 0, out.getvalue()
    assert slept == [7]


def test_not_inspected_is_not_tried_again(servers):
    """A request that passed uninspected is the finding: no second try may hide it."""
    forwards, logs = _cluster(servers, search=Waf(servers(echo("json")), inspect=False))
    slept = []
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        code = verify.main(["--stack", "staging", "--attempts", "3", "--log-wait", "0"],
                           FakeRunner(forwards, logs), sleep=slept.append)
    row = _rows(out.getvalue())["app shop/search"]
    assert code == 1 and _verdict(row) == verify.NOT_INSPECTED and "tries" not in row
    assert slept == []


def test_a_verdict_that_stands_says_how_often_it_was_tried(servers):
    forwards, logs = _cluster(servers, gateway=Waf(servers(echo("plain"))))
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        code = verify.main(["--stack", "staging", "--attempts", "2", "--log-wait", "0"],
                           FakeRunner(forwards, logs), sleep=lambda s: None)
    assert code == 1 and "(the last of 2 tries)" in _rows(out.getvalue())["gateway"]


def test_recorded_outputs_from_a_file(servers, tmp_path):
    forwards, logs = _cluster(servers)
    runner = FakeRunner(forwards, logs, tools=("kubectl",))  # no Pulumi CLI needed then
    code, out, err = _main(runner, outputs=OUTPUTS)
    assert code == 0, out + err
    assert not [c for c in runner.calls if c[0] == "pulumi"]


# -- the stack's echo backend (sigsci:verify) ------------------------------------------------------------------------

ECHO_FIXTURE = FIXTURES / "echo" / "http-https-echo-41.json"
ECHO_HOST = "sigsci-verify.invalid"


def echo_image(seen: list | None = None):
    """An upstream that answers as the stack's echo image does (tests/verify_fixtures/echo/: its JSON, with
    `headers` the request's headers by lower-case name, as Node keeps them), noting each request's Host and path."""

    class EchoImage(_Quiet):
        def do_GET(self):
            if seen is not None:
                seen.append((self.headers["Host"], self.path))
            answer = json.loads(ECHO_FIXTURE.read_text())
            answer.update(path=self.path, headers={k.lower(): v for k, v in self.headers.items()},
                          hostname=(self.headers["Host"] or "").split(":")[0])
            self.reply(200, json.dumps(answer, indent=2).encode(), "application/json; charset=utf-8")
    return EchoImage


def test_echoed_headers_of_the_echo_image():
    """The image's answer, as recorded in tests/verify_fixtures/echo/: the module's headers and the marker."""
    body = ECHO_FIXTURE.read_bytes()
    assert verify.echoed_headers(body) == {
        "x-sigsci-requestid": ["6cdb3ad0-ac5e-4a5c-8a0f-0f7a0f5e3b1d"], "x-sigsci-agentresponse": ["200"],
        verify.MARKER_HEADER: ["5c2e9d1f0a7b3e64"]}
    found = verify.echo_evidence(verify.Http(200, body), "5c2e9d1f0a7b3e64")
    assert found.outcome == verify.INSPECTED and "X-SigSci-AgentResponse 200 (allow)" in found.why
    uninspected = json.loads(body)
    for name in ("x-sigsci-requestid", "x-sigsci-agentresponse"):
        del uninspected["headers"][name]
    assert verify.echo_evidence(verify.Http(200, json.dumps(uninspected).encode()), "5c2e9d1f0a7b3e64").outcome \
        == verify.NOT_INSPECTED


def test_plan_reads_the_echo():
    entries, notes = verify.plan(_outputs())
    echo = verify.Echo(ECHO_HOST, "sigsci-verify", "sigsci-echo")
    assert [(e.key, e.echo) for e in entries if e.kind != "app"] == [("ingress", echo), ("gateway", echo)]
    assert all(e.echo is None for e in entries if e.kind == "app")  # an app is reached on its own Service
    assert notes == [notes[0]] and notes[0].startswith("injection")


@pytest.mark.parametrize("output", [{"echo": {"host": ECHO_HOST}}, {"echo": None}, "[secret]",
                                    {"echo": {"host": ECHO_HOST, "path": "/other", "namespace": "v",
                                              "service": "e"}}])
def test_an_unusable_echo_output_is_a_note(output):
    outputs = {**_outputs(), "verify": output}
    entries, notes = verify.plan(outputs)
    assert all(e.echo is None for e in entries)
    assert any(n.startswith("verify: the output is") for n in notes)


def test_the_echo_proves_the_ingress_controller_and_the_gateway(servers):
    """Both fronts are sent the marked request on the echo's host; the echo image's answer carries the proof."""
    seen: list = []
    forwards, logs = _cluster(servers, ingress=Waf(servers(echo_image(seen))),
                              gateway=Waf(servers(echo_image(seen)), case="title"))
    code, out, err = _main(FakeRunner(forwards, logs))
    assert code == 0, out + err
    rows = _rows(out)
    for name in ("ingress", "gateway"):
        assert _verdict(rows[name]) == verify.INSPECTED and f", Host {ECHO_HOST}" in rows[name]
    assert len(seen) == 2 and all(host == ECHO_HOST and path.startswith("/sigsci-verify/") for host, path in seen)


def test_an_echo_reached_around_the_agent_is_not_inspected(servers):
    """The fail-open case the echo exists for: the request reaches the echo without the module's headers."""
    forwards, logs = _cluster(servers, ingress=Waf(servers(echo_image()), inspect=False))
    code, out, _ = _main(FakeRunner(forwards, logs))
    row = _rows(out)["ingress"]
    assert code == 1 and _verdict(row) == verify.NOT_INSPECTED
    assert "echoed the request without X-SigSci-RequestID or X-SigSci-AgentResponse" in row


def test_an_echo_that_does_not_answer_says_where_it_runs(servers):
    class NotFound(_Quiet):
        def do_GET(self):
            self.reply(404, b"<html><body>404 Not Found</body></html>", "text/html")

    forwards, logs = _cluster(servers, ingress=servers(NotFound))
    code, out, _ = _main(FakeRunner(forwards, logs))
    row = _rows(out)["ingress"]
    assert code == 1 and _verdict(row) == verify.UNKNOWN
    assert "HTTP 404 without an echo of the request" in row
    assert (f"the stack routes /sigsci-verify on host {ECHO_HOST} to its echo sigsci-verify/sigsci-echo, which did "
            "not answer") in row
    assert "kubectl get pods --namespace sigsci-verify" in row and "--route ingress=URL" not in row


def test_a_route_overrides_the_echo_host(servers):
    seen: list = []
    forwards, logs = _cluster(servers, ingress=Waf(servers(echo_image(seen))))
    code, out, _ = _main(FakeRunner(forwards, logs), "--route", "ingress=http://shop.example.com/catalog")
    assert code == 0, out
    assert seen == [("shop.example.com", seen[0][1])] and seen[0][1].startswith("/catalog/sigsci-verify/")


def test_allow_unknown_lets_an_unprovable_entry_pass(servers):
    """staging's module app does not echo request headers: nothing can prove it, and the run may say so."""
    forwards, logs = _cluster(servers, search=Waf(servers(echo("plain"))))
    code, out, _ = _main(FakeRunner(forwards, logs))
    assert code == 1 and _verdict(_rows(out)["app shop/search"]) == verify.UNKNOWN
    code, out, _ = _main(FakeRunner(forwards, logs), "--allow-unknown", "shop/search,nowhere/x", "--allow-unknown", "")
    row = _rows(out)["app shop/search"]
    assert code == 0, out
    assert _verdict(row) == verify.UNKNOWN and row.endswith("; allowed to stay unknown (--allow-unknown)")
    assert "note: --allow-unknown names no entry of the stack: nowhere/x" in out
    assert out.rstrip().endswith("5 of 6 entries of stack 'staging' proven inspected; 1 allowed to stay unknown "
                                 "(app shop/search (module))")


def test_an_entry_allowed_to_stay_unknown_is_tried_once(servers):
    forwards, logs = _cluster(servers, search=Waf(servers(echo("plain"))))
    slept: list = []
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        code = verify.main(["--stack", "staging", "--attempts", "4", "--log-wait", "0", "--allow-unknown",
                            "shop/search"], FakeRunner(forwards, logs), sleep=slept.append)
    assert code == 0 and slept == [] and "tries" not in _rows(out.getvalue())["app shop/search"]


def test_allow_unknown_never_lets_not_inspected_pass(servers):
    forwards, logs = _cluster(servers, search=Waf(servers(echo("json")), inspect=False))
    code, out, _ = _main(FakeRunner(forwards, logs), "--allow-unknown", "shop/search")
    row = _rows(out)["app shop/search"]
    assert code == 1 and _verdict(row) == verify.NOT_INSPECTED and "allowed" not in row


# -- what it cannot run without --------------------------------------------------------------------------------------

def test_missing_kubectl_is_one_line():
    code, out, err = _main(FakeRunner(tools=("pulumi",)))
    assert code == 2 and out == ""
    missing = "  - missing kubectl: install it (https://kubernetes.io/docs/tasks/tools/) and run the command again"
    assert err.splitlines() == ["Cannot verify stack 'staging' yet:", missing]


def test_missing_pulumi_and_kube_context_each_one_line():
    runner = FakeRunner(tools=("kubectl",))
    runner.answers["config current-context"] = verify.Completed(1, "", "error: current-context is not set\n")
    code, _, err = _main(runner)
    lines = err.splitlines()
    assert code == 2 and lines[0] == "Cannot verify stack 'staging' yet:" and len(lines) == 3
    assert lines[1].startswith("  - missing Pulumi CLI: install it (https://www.pulumi.com/docs/install/)")
    assert lines[2].startswith("  - missing kube context: ") and "kubectl config use-context" in lines[2]


def test_a_named_context_that_does_not_exist():
    runner = FakeRunner()
    runner.answers["config get-contexts gone"] = verify.Completed(1, "", 'error: context "gone" not found\n')
    code, _, err = _main(runner, "--context", "gone")
    assert code == 2
    assert err.splitlines()[1] == ("  - missing kube context 'gone' (--context): run `kubectl config get-contexts` "
                                   "and name one of them")


def test_a_named_context_reaches_every_kubectl_call(servers):
    forwards, logs = _cluster(servers)
    runner = FakeRunner(forwards, logs)
    runner.answers["config get-contexts kind-staging"] = verify.Completed(0, "kind-staging", "")
    runner.kubectl = {f"--context kind-staging {k}": v for k, v in runner.kubectl.items()}
    code, out, _ = _main(runner, "--context", "kind-staging")
    assert code == 0, out
    kubectl = [c for c in runner.calls if c[0] == "kubectl" and c[1:3] != ["config", "get-contexts"]]
    assert kubectl and all(c[1:3] == ["--context", "kind-staging"] for c in kubectl)


def test_a_stack_without_outputs():
    runner = FakeRunner()
    runner.answers["stack output --json --non-interactive --stack staging"] = verify.Completed(
        255, "", "error: no stack named 'staging' found\n")
    code, out, err = _main(runner)
    assert code == 2 and out == ""
    assert "missing outputs of stack 'staging': `pulumi stack output` said \"error: no stack named 'staging' " \
           "found\"; run `make up STACK=staging` first" in err


def test_a_stack_that_declares_nothing_proves_nothing(tmp_path):
    empty = tmp_path / "outputs.json"
    empty.write_text(json.dumps({"apps": {}, "secretName": "sigsci.x",
                                 "injection": {"policyName": "p", "paramsNamespace": "n"}}))
    code, _, err = _main(FakeRunner(), outputs=empty)
    assert code == 1 and "declares no app, ingress or gateway: nothing was proven" in err
    assert "injection: not checked here" in err


def test_a_bad_route_is_refused():
    code, _, err = _main(FakeRunner(), "--route", "ingress=ftp://x")
    assert code == 2 and "--route ingress=ftp://x" in err


def test_help():
    with pytest.raises(SystemExit) as done, redirect_stdout(io.StringIO()) as out:
        verify.main(["--help"], FakeRunner())
    assert done.value.code == 0 and "--route ENTRY=URL" in out.getvalue()


# -- the pure core ---------------------------------------------------------------------------------------------------

def test_plan_from_the_recorded_outputs():
    entries, notes = verify.plan(_outputs())
    assert [(e.key, e.kind, e.placement, e.log_evidence) for e in entries] == [
        ("payments/payments", "app", "service", True), ("shop/checkout", "app", "patch", True),
        ("shop/search", "app", "module", False), ("shop/storefront", "app", "owned", True),
        ("ingress", "ingress", None, False), ("gateway", "gateway", None, False)]
    assert all(e.problem is None for e in entries)
    assert [n.split(":")[0] for n in notes] == ["injection"]


def test_plan_of_a_module_in_an_existing_deployment():
    entries, _ = verify.plan({"apps": {"shop/api": {"namespace": "shop", "placement": "module", "service": None}}})
    [entry] = entries
    assert entry.problem.startswith("no Service of the stack to send a request to")
    row = verify.Verifier(verify.Settings("dev"), FakeRunner()).check(entry)
    assert row.verdict == verify.UNKNOWN and row.reached == "not reached"


def test_plan_of_outputs_that_are_secret():
    entries, notes = verify.plan({"apps": "[secret]", "ingress": {"namespace": "[secret]", "serviceName": "c"}})
    assert [e.problem is not None for e in entries] == [True]
    assert notes[0].startswith("apps: the output is '[secret]'")


def test_the_recorded_outputs_have_the_program_s_shape():
    """The fixture is what the stack program exports (the dev stack, under mocks), key for key."""
    exported = harness.unwrap_secrets(harness.clean(harness.run_stack("dev").outputs))
    recorded = _outputs()
    for output in ("apps", "ingress", "gateway", "verify"):
        assert output in exported
    assert {frozenset(v) for v in exported["apps"].values()} == {frozenset(v) for v in recorded["apps"].values()}
    assert set(exported["ingress"]) == set(recorded["ingress"])
    assert set(exported["gateway"]) == set(recorded["gateway"])
    assert exported["verify"] == recorded["verify"]  # the dev stack's echo, with every default
    assert verify.echo_of(exported) == (verify.Echo("sigsci-verify.invalid", "sigsci-verify", "sigsci-echo"), "")
    app = next(iter(exported["apps"].values()))
    assert app["placement"] in verify.REVERSE_PROXY + ("module",)


@pytest.mark.parametrize("body,expected", [
    (b'{"headers": {"X-Sigsci-Requestid": "a1", "X-Sigsci-Agentresponse": "200"}}',
     {"x-sigsci-requestid": ["a1"], "x-sigsci-agentresponse": ["200"]}),
    (b'{"request": {"headers": {"x-sigsci-requestid": ["a1"], "X-SIGSCI-AGENTRESPONSE": ["406"]}}}',
     {"x-sigsci-requestid": ["a1"], "x-sigsci-agentresponse": ["406"]}),
    (b'{"headers": [{"name": "X-SigSci-RequestID", "value": "a1"}, {"key": "x-sigsci-agentresponse", "value": "200"}]}',
     {"x-sigsci-requestid": ["a1"], "x-sigsci-agentresponse": ["200"]}),
    (b"GET /x HTTP/1.1\nHost: a\nX-Sigsci-Requestid: a1\nx-sigsci-agentresponse: 200\n",
     {"x-sigsci-requestid": ["a1"], "x-sigsci-agentresponse": ["200"]}),
    (b"Request Headers:\n\tx-sigsci-requestid=a1\n\tx-sigsci-agentresponse=200\n",
     {"x-sigsci-requestid": ["a1"], "x-sigsci-agentresponse": ["200"]}),
    (b'{"headers": {"Host": "a", "X-Other": "x-sigsci-requestid: no"}}', {}),
    (b"Hello, world\n", {}),
])
def test_echoed_headers(body, expected):
    assert verify.echoed_headers(body) == expected


@pytest.mark.parametrize("value,decision", [("200", "allow"), (" 200 ", "allow"), ("301", "block"),
                                            ("406", "block"), ("500", "block"), ("300", None), ("204", None),
                                            ("-1", None), ("0", None), ("", None), ("allow", None)])
def test_agent_decision(value, decision):
    assert verify.agent_decision(value) == decision


def _echo(headers: dict, marker: str = "m1", status: int = 200) -> verify.Http:
    return verify.Http(status, json.dumps({"headers": {verify.MARKER_HEADER: marker, **headers}}).encode())


def test_echo_evidence():
    both = {"X-SigSci-RequestID": "r", "X-SigSci-AgentResponse": "200"}
    assert verify.echo_evidence(_echo(both), "m1").outcome == verify.INSPECTED
    assert verify.echo_evidence(_echo({}), "m1").outcome == verify.NOT_INSPECTED
    only = verify.echo_evidence(_echo({"X-SigSci-RequestID": "r"}), "m1")
    assert only.outcome == verify.UNKNOWN and "lacks X-SigSci-AgentResponse" in only.why
    # Another request's echo (another marker) or a page that is no echo proves nothing either way.
    assert verify.echo_evidence(_echo(both, marker="other"), "m1").outcome is None
    assert verify.echo_evidence(verify.Http(404, b"Cannot GET /sigsci-verify/m1"), "m1").outcome is None
    assert verify.echo_evidence(verify.Http(None, error="timed out"), "m1") == \
        verify.Evidence(None, "no answer: timed out")


def test_decide():
    yes, no = verify.Evidence(verify.INSPECTED, "log"), verify.Evidence(verify.NOT_INSPECTED, "echo")
    silent, odd = verify.Evidence(None, "no echo"), verify.Evidence(verify.UNKNOWN, "odd")
    assert verify.decide([silent, yes]) == verify.Verdict(verify.INSPECTED, "log")
    assert verify.decide([no, silent]) == verify.Verdict(verify.NOT_INSPECTED, "echo")
    assert verify.decide([no, yes]).verdict == verify.UNKNOWN
    assert verify.decide([no, yes]).why.startswith("the evidence disagrees")
    assert verify.decide([odd, yes]).verdict == verify.UNKNOWN
    assert verify.decide([silent]) == verify.Verdict(verify.UNKNOWN, "no echo")
    assert verify.decide([silent, silent], "why not") == verify.Verdict(verify.UNKNOWN, "no echo; no echo; why not")


def test_log_evidence():
    pod = verify.AgentPod("p1", True, True, (8001, "sigsci-http"))
    assert verify.log_evidence([pod], {"p1": "x\nGET /sigsci-verify/m1 200\n"}, "m1", True).outcome == \
        verify.INSPECTED
    assert verify.log_evidence([pod], {"p1": "x\n"}, "m1", True).outcome == verify.NOT_INSPECTED
    assert verify.log_evidence([pod], {"p1": "x\n"}, "m1", False).outcome is None  # no answer: nothing to miss
    assert verify.log_evidence([pod], {"p1": None}, "m1", True).outcome is None  # the log could not be read
    assert verify.log_evidence([verify.AgentPod("p1", True, None)], {"p1": ""}, "m1", True).outcome is None
    assert verify.log_evidence([verify.AgentPod("p1", False)], {}, "m1", True).outcome == verify.NOT_INSPECTED
    assert verify.log_evidence([], {}, "m1", True).outcome is None


def test_service_port():
    service = {"spec": {"ports": [{"name": "metrics", "port": 9090, "targetPort": 9090},
                                  {"name": "http", "port": 80, "targetPort": 8081}]}}
    assert verify.service_port(service, (8081, "sigsci-http")) == (80, "")
    assert verify.service_port(service, (8001, "sigsci-http")) == \
        (80, "no port of the Service targets the agent's listener (8001, sigsci-http)")
    named = {"spec": {"ports": [{"name": "web", "port": 8000, "targetPort": "sigsci-http"}]}}
    assert verify.service_port(named, (8001, "sigsci-http")) == (8000, "")
    tls = {"spec": {"ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}}
    assert verify.service_port(tls, https=True) == (443, "")
    assert verify.service_port({"spec": {"ports": []}}) == (None, "the Service has no TCP port")


def test_agent_pods_read_the_listener():
    pods = _kubectl()["get pods --namespace shop --selector app=checkout --output json"]
    [pod] = verify.agent_pods(pods)
    assert pod == verify.AgentPod("checkout-5c8f7d9b6-h4t2z", True, True, (8081, "sigsci-http"))


def test_table():
    text = verify.table([verify.Row("app a/b (owned)", "port-forward service/b:80 in a", "inspected", "why")])
    header, row = text.splitlines()
    assert header.split("  ")[0].strip() == "entry" and row.startswith("app a/b (owned)  port-forward")
    assert header.index("verdict") == row.index("inspected")


# -- the real runner, with a stand-in kubectl on PATH ----------------------------------------------------------------

FAKE_KUBECTL = """#!{python}
import os, sys, time
args = sys.argv[1:]
if args[0] == "port-forward":
    if os.environ.get("FAKE_FORWARD_FAIL"):
        print('error: services "nope" not found', file=sys.stderr)
        sys.exit(1)
    print("Forwarding from 127.0.0.1:" + os.environ["FAKE_FORWARD_PORT"] + " -> 8001", flush=True)
    time.sleep(60)
print("kind-dev")
"""


@pytest.fixture
def fake_kubectl(tmp_path, monkeypatch):
    path = tmp_path / "kubectl"
    path.write_text(FAKE_KUBECTL.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return path


def test_the_subprocess_runner_forwards_and_cleans_up(servers, fake_kubectl, monkeypatch):
    address = servers(Waf(servers(echo("json"))).handler)
    monkeypatch.setenv("FAKE_FORWARD_PORT", str(address[1]))
    runner = verify.SubprocessRunner()
    assert runner.which("kubectl") == str(fake_kubectl)
    assert runner.run(["kubectl", "config", "current-context"]).stdout.strip() == "kind-dev"
    started = time.monotonic()
    with runner.port_forward(["kubectl", "port-forward", "--address", "127.0.0.1", "service/x", ":80"]) as local:
        assert local == address
        answer = verify.send(*local, "/sigsci-verify/m1", "m1")
    assert time.monotonic() - started < 30  # the forward was ended, not waited out
    assert verify.echo_evidence(answer, "m1").outcome == verify.INSPECTED


def test_the_subprocess_runner_reports_kubectl_s_error(fake_kubectl, monkeypatch):
    monkeypatch.setenv("FAKE_FORWARD_FAIL", "1")
    forward = verify.SubprocessRunner().port_forward(["kubectl", "port-forward", "service/nope", ":80"])
    with pytest.raises(verify.PortForwardError, match='services "nope" not found'), forward:
        pass


def test_send_reports_a_refused_connection():
    answer = verify.send("127.0.0.1", _closed_port(), "/sigsci-verify/m1", "m1", timeout=2)
    assert answer.status is None and answer.error.startswith("ConnectionRefusedError")


def test_the_marked_request(servers):
    seen = {}

    class Recording(_Quiet):
        def do_GET(self):
            seen.update(path=self.path, headers={k.lower(): v for k, v in self.headers.items()})
            self.reply(200, b"ok")

    verify.send(*servers(Recording), "/sigsci-verify/m1", "m1")
    assert seen["path"] == "/sigsci-verify/m1"
    assert seen["headers"]["x-sigsci-force-inspection"] == "true"
    assert seen["headers"][verify.MARKER_HEADER] == "m1"


def test_fixture_copies_are_independent():
    """Tests change their own copy of a recording; the files stay as recorded."""
    first = _kubectl()
    second = copy.deepcopy(first)
    next(iter(first.values()))["kind"] = "changed"
    assert _kubectl() == second
