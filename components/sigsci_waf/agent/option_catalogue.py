"""The agent options this package knows, each with the kind of value the agent takes: the one place this rule lives.

The list follows Fastly's "Configuring the Next-Gen WAF agent" reference as of agent v4.75-v4.77 (the agent's
`--usage`: `name=type` with types string, int, time-duration and true|false), the vendor guides that set
options, and the vendor's own example configurations (its repositories' agent.conf files, manifests and test
harnesses), each group below naming where its entries come from. Only options a source names are here, and only
the constraints a source gives (or that any other value would make meaningless) are checked. An option the
agent has and this list lacks goes under `unlistedOptions`: passed through unchecked, with a preview warning.

An option whose type no source we could read states is `Text`: passed through as written, as before values
were checked. `agent/options.py` reads this catalogue (names, did-you-mean, value checks); `config/agent.py`
applies it to `options`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    """Any string, whole number or true/false, passed through as written (its type is not checked)."""


@dataclass(frozen=True)
class Boolean:
    """`true|false` in the reference: true or false (the YAML booleans, or the strings 'true'/'false')."""


@dataclass(frozen=True)
class Integer:
    """`int` in the reference: a whole number (or its decimal digits as a string) from `low` to `high`."""

    low: int | None = None
    high: int | None = None
    unit: str = ""


@dataclass(frozen=True)
class Choice:
    """An `int` the agent reads as a level: one of `values`, each with what it means."""

    values: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Duration:
    """`time-duration` in the reference: a Go duration ('10s', '250ms', '1m30s'; units ns, us, ms, s, m, h) or a
    whole number of milliseconds; positive."""


@dataclass(frozen=True)
class Size:
    """A byte count, as the agent takes it: a whole number of bytes (no unit suffix), `low` or more."""

    low: int = 1


@dataclass(frozen=True)
class Address:
    """Where the agent listens or sends: `host:port` (host a name, an IPv4 address or a bracketed IPv6 one, or
    empty for every interface); with `unix`, also a Unix socket as an absolute path or `unix:/path`."""

    unix: bool = False


@dataclass(frozen=True)
class Path:
    """A file or directory in the agent's container: an absolute path."""


Kind = Text | Boolean | Integer | Choice | Duration | Size | Address | Path

_LEVELS = ((0, "off"), (1, "on"), (2, "more detail"))

CATALOGUE: dict[str, Kind] = {
    # -- The reference's option list ("Configuring the Next-Gen WAF agent", www.fastly.com/documentation/reference/
    #    ngwaf/agent-config, v4.75-v4.77; the same entries in its earlier copies at docs.fastly.com for v4.18-v4.66).
    "accesskeyid": Text(),                            # string; derived here (config/agent.py OWNED_OPTIONS)
    "anonymous-ip-secret-key": Text(),                # string
    "bypass-egress-proxy-for-upstreams": Boolean(),   # [=true|false], default false
    "cleaner-interval": Duration(),                   # time-duration, default 10s
    "client-ip-header": Text(),                       # string, default X-Forwarded-For
    "config": Path(),                                 # string: the configuration file, default /etc/sigsci/agent.conf
    "context-expiration": Duration(),                 # time-duration, default 10s
    "custom-request-headers": Text(),                 # string: CSV of name:val pairs
    "debug-log-all-the-things": Boolean(),            # [=true|false], default false
    "debug-log-blocked-requests": Boolean(),          # [=true|false], default false
    # integer, default 0: "Log when config updated or checked, 0=off, 1=updated, 2=more details" (v4.18 copy)
    "debug-log-config-updates": Choice(((0, "off"), (1, "when updated"), (2, "more details"))),
    "debug-log-connection-errors": Integer(low=0),    # int (v4.18 copy); no range given, a level is not negative
    "secretaccesskey": Text(),                        # string; derived here (credentials from the Secret)

    # -- Logging levels set as 0/1/2: the vendor's Docker Compose example for Envoy (aaron-sigsci/sigsci-envoy,
    #    SIGSCI_DEBUG_LOG_WEB_INPUTS=2, SIGSCI_DEBUG_LOG_WEB_OUTPUTS=2), its Chef cookbook
    #    (signalsciences/signalsciences-cookbook attributes: log-web-inputs, log-web-outputs, log-uploads = 0,
    #    written as `debug-<flag> = <n>`), a syslog example (foospidy: debug-log-web-inputs = 1).
    "debug-log-web-inputs": Choice(_LEVELS),
    "debug-log-web-outputs": Choice(_LEVELS),
    "debug-log-uploads": Integer(low=0),              # cookbook: an integer level, 0 by default; no range given

    # -- Listeners and modules: "Kubernetes Agent + Module" and "HAProxy SPOE module install" (rpc-address, as
    #    `unix:/<chroot>/var/run/sigsci.sock`; haproxy-spoa-enabled=true), "Kubernetes reverse proxy"
    #    (revproxy-listener), "Kubernetes startup probe" (SIGSCI_STARTUP_PROBE_LISTENER=0.0.0.0:2024,
    #    SIGSCI_STARTUP_PROBE_FILEPATH, a file the agent creates), the cache directory beside the socket.
    "rpc-address": Address(unix=True),                # derived here (tmpMountPath)
    "haproxy-spoa-enabled": Boolean(),
    "revproxy-listener": Text(),                      # derived here (the app's ports)
    "startup-probe-listener": Address(),              # derived here (startupProbe)
    "startup-probe-filepath": Path(),
    "shared-cache-dir": Path(),                       # derived here (tmpMountPath)

    # -- Envoy as the front: "Kubernetes Envoy" (envoy-grpc-address 0.0.0.0:8000, envoy-grpc-cert and
    #    envoy-grpc-key as /path/to/*.pem), "Kubernetes Envoy Gateway" (SIGSCI_ENVOY_EXTPROC_ENABLED "true",
    #    SIGSCI_ENVOY_GRPC_ADDRESS 0.0.0.0:9999, SIGSCI_SERVER_FLAVOR envoy-gateway), the older ext_authz setup
    #    (SIGSCI_ENVOY_EXPECT_RESPONSE_DATA=1 in aaron-sigsci/sigsci-envoy and dkegel-sigsci/envoy-front-proxy-sigsci).
    "envoy-grpc-address": Address(),                  # derived here (the gateway's agents.port)
    "envoy-grpc-cert": Path(),                        # derived here (agents.tls)
    "envoy-grpc-key": Path(),                         # derived here (agents.tls)
    "envoy-extproc-enabled": Boolean(),               # derived here (the gateway's agents)
    "envoy-expect-response-data": Choice(((0, "no"), (1, "yes: Envoy sends response data"))),
    "server-flavor": Text(),                          # derived here (the gateway's implementation)

    # -- Request handling: "Configuring gRPC proxy deployments" (inspection-max-content-length = 307200, the
    #    largest message proxied, in bytes); WebSocket inspection, set to "true" in Fastly's examples
    #    (fastly/security-use-cases on-prem-ngwaf-integrations/simple-container-only/Makefile:
    #    SIGSCI_INSPECT_WEBSOCKET="true", and inspect-websocket=true on a revproxy listener), no type stated.
    "inspection-max-content-length": Size(),
    "inspect-websocket": Text(),

    # -- Logs and metrics: "Agent StatsD Metrics" (statsd-address, statsd-metrics), Datadog's Signal Sciences
    #    integration (statsd-type = "dogstatsd", statsd-address = "<host>:<port>"), Fastly's local logging guide
    #    and the Envoy examples (waf-data-log: a file in the container, /dev/stdout), the Go module's RPC notes
    #    (signalsciences/sigsci-module-golang: "the waf-data-log-all config option ... set to true"), the vendor's
    #    Cloud Foundry buildpack and Envoy sandbox (log-out: a file, /var/tmp/agent.log; server-hostname).
    "statsd-address": Address(),
    "statsd-metrics": Text(),                         # a filter of metric names
    "statsd-type": Text(),                            # "dogstatsd" documented; the other values are not
    "waf-data-log": Path(),
    "waf-data-log-all": Boolean(),
    "log-out": Path(),
    "server-hostname": Text(),

    # -- Confirmed names whose rows we could not read: CPU use ("Performance & Reliability": 1 core -> 1,
    #    2-3 -> 2, 4+ -> half the cores by default; a worker count, so at least 1) and the upload interval
    #    ("Performance & Reliability": every 30 seconds by default, set on the agent's command line; "5s" and "10s"
    #    in Fastly's examples, fastly/security-use-cases .github/workflows/ngwaf-proxy-rate-limit.yaml and
    #    on-prem-ngwaf-integrations/envoy-deployment.yaml; no type stated).
    "max-procs": Integer(low=1, unit="CPUs"),
    "upload-interval": Text(),

    # -- Debug levels and switches set in the vendor's configurations. A vendor engineer's lab reverse-proxy
    #    agent.conf (heshaam-sigsci/lab revproxy-apache-debian/agent.conf) sets debug-log-engine-errors = "2" beside
    #    debug-log-connection-errors = "1" (an int in the reference), debug-log-proxy-requests and
    #    debug-log-rpc-data = "true"; Fastly's Google Cloud Service Extensions post
    #    (www.fastly.com/blog/deploying-fastly-next-gen-waf-google-cloud-service-extensions-secure-traffic) runs the
    #    agent with SIGSCI_DEBUG_LOG_VERBOSITY=3; the Go module's test harness
    #    (signalsciences/sigsci-module-golang scripts/test-golang117..119/docker-compose.yml) runs it with
    #    `-debug-rpc-test-harness` as a bare flag (a true/false one) and `-debug-standalone 3`. No range given: a
    #    level is not negative.
    "debug-log-engine-errors": Integer(low=0),
    "debug-log-proxy-requests": Boolean(),
    "debug-log-rpc-data": Boolean(),
    "debug-log-verbosity": Integer(low=0),
    "debug-rpc-test-harness": Boolean(),
    "debug-standalone": Integer(low=0),

    # -- Timing, RPC and listeners from the same configurations: download-interval = "5s" (heshaam-sigsci/lab
    #    revproxy-apache-debian/agent.conf; an interval, so positive); inspection-timeout = "1ms" (heshaam-sigsci/lab
    #    nginx-centos7/agent.conf; a duration, but no source says whether 0 is taken, so not checked);
    #    rpc-version = 1 beside a TCP rpc-address in vendor engineers' Azure App Service and IIS setups
    #    (brectanus-sigsci/azure_appservice_example App_Data/jobs/continuous/sigsci-agent/agent.conf,
    #    jeremy-cxf/sigsci-iis-agent-module-install install-sigsci-agent-module-iis.ps1; a version, not negative);
    #    haproxy-spoa-address, HAProxy's SPOA listener, "unix:/sigsci/tmp/sigsci-ha.sock" in the Fastly training demos
    #    (BrooksCunningham/Fastly-Training-Demos NGWAF-Deployment-Examples/haproxy-AgentSideCar/haproxy.tf; not
    #    checked: the Go module's harness gives the agent's rpc-address as a bare port, "9090", a form Address
    #    refuses); open-api-spec-file, the OpenAPI specification for API schema enforcement, a URL in Fastly's
    #    examples (fastly/security-use-cases simple-container-only/Makefile, SIGSCI_OPEN_API_SPEC_FILE).
    "download-interval": Duration(),
    "inspection-timeout": Text(),
    "rpc-version": Integer(low=0),
    "haproxy-spoa-address": Text(),
    "open-api-spec-file": Text(),
}
