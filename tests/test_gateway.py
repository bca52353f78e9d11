"""sigsci:gateway: the agents as Envoy's external processor, the policy on the whole Gateway, the Gateway and
its routes; every custom resource checked against its CRD's own schema and CEL rules."""

from __future__ import annotations

import pytest

import harness
import schema_check
from harness import clean, env_of, unwrap_secrets
from sigsci_waf import ConfigError, SigsciGateway, SigsciRevProxyApp, SigsciSecret

BASE = {"sigsci:site": "demo", **harness.KEY_CONFIG,
        "sigsci:apps": [{"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080}]}
# The contract, as written, plus a route to a Service in another namespace and failOpen.
CONTRACT = {**BASE, "sigsci:gateway": {"routes": [{"app": "web", "host": "shop.example.com"}]}}
WIDER = {**BASE, "sigsci:gateway": {"routes": [{"app": "web", "host": "shop.example.com"},
                                               {"service": {"name": "docs", "port": 8080}, "namespace": "docs"}],
                                    "failOpen": True}}


def _objects(run) -> dict[tuple[str, str, str], dict]:
    """Every object the run declares, by (kind, namespace, name)."""
    found = {}
    for resource in run.resources:
        if resource.is_object:
            obj = unwrap_secrets(clean(resource.inputs))
            found[(obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])] = obj
    return found


def _one(objects, kind):
    matches = [o for (k, _, _), o in objects.items() if k == kind]
    assert len(matches) == 1, f"{kind}: {len(matches)}"
    return matches[0]


@pytest.mark.parametrize("config", [CONTRACT, WIDER], ids=["contract", "wider"])
def test_the_contract_builds_and_every_object_is_valid(config):
    run = harness.run_config(config)
    schema_check.validate_run(run)  # Kubernetes' schemas, and the CRDs' own with their CEL rules
    objects = _objects(run)
    kinds = {k for k, _, _ in objects}
    assert {"GatewayClass", "Gateway", "HTTPRoute", "EnvoyExtensionPolicy", "ClientTrafficPolicy"} <= kinds
    release = next(r for r in run.of_type(harness.RELEASE_TYPE) if "gateway-helm" in r.inputs["chart"])
    assert release.inputs["version"] == "v1.9.0" and release.inputs["namespace"] == "envoy-gateway-system"
    assert run.outputs["gateway"] == {"namespace": "sigsci-gateway", "gatewayNamespace": "sigsci-gateway",
                                      "gatewayName": "sigsci-gateway"}


def test_one_port_drives_the_listener_the_container_the_service_the_probe_and_the_policy():
    objects = _objects(harness.run_config({**CONTRACT, "sigsci:gateway": {
        **CONTRACT["sigsci:gateway"], "agents": {"port": 7443}}}))
    deployment = objects[("Deployment", "sigsci-gateway", "sigsci-extproc")]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = env_of(container)
    assert env["SIGSCI_ENVOY_GRPC_ADDRESS"] == "0.0.0.0:7443"
    assert env["SIGSCI_ENVOY_EXTPROC_ENABLED"] == "true" and env["SIGSCI_SERVER_FLAVOR"] == "envoy-gateway"
    # Beside the listener, the startup probe's port (on by default), which readiness waits for.
    assert container["ports"] == [{"name": "grpc", "containerPort": 7443, "protocol": "TCP"},
                                  {"name": "sigsci-startup", "containerPort": 2024, "protocol": "TCP"}]
    assert container["readinessProbe"]["grpc"] == {"port": 7443}
    assert container["startupProbe"]["httpGet"] == {"path": "/startup", "port": 2024}
    service = objects[("Service", "sigsci-gateway", "sigsci-extproc")]
    assert service["spec"]["ports"] == [{"name": "grpc", "port": 7443, "targetPort": 7443, "protocol": "TCP"}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    policy = _one(objects, "EnvoyExtensionPolicy")
    assert policy["spec"]["extProc"][0]["backendRefs"] == [
        {"group": "", "kind": "Service", "name": "sigsci-extproc", "port": 7443}]


def test_the_policy_covers_the_whole_gateway_and_fails_closed():
    objects = _objects(harness.run_config(CONTRACT))
    gateway = _one(objects, "Gateway")
    policy = _one(objects, "EnvoyExtensionPolicy")
    assert policy["metadata"]["namespace"] == gateway["metadata"]["namespace"]
    # The Gateway itself: every route attached to it and every listener, no sectionName to miss.
    assert policy["spec"]["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                             "name": gateway["metadata"]["name"]}]
    ext_proc = policy["spec"]["extProc"][0]
    assert ext_proc["failOpen"] is False
    assert ext_proc["processingMode"] == {"request": {"body": "Buffered"}, "response": {"body": "Buffered"}}
    assert ext_proc["messageTimeout"] == "2s"
    buffer = _one(objects, "ClientTrafficPolicy")
    # Over HTTP/2 a stream buffers up to its window: the body limit too.
    assert buffer["spec"] == {"targetRefs": policy["spec"]["targetRefs"], "connection": {"bufferLimit": "1Mi"},
                              "http2": {"initialStreamWindowSize": 2 ** 20}}
    # Only the stack's own routes attach to the Gateway it creates.
    assert all(listener["allowedRoutes"] == {"namespaces": {"from": "Same"}}
               for listener in gateway["spec"]["listeners"])


def test_fail_open_warns_and_is_the_only_way_to_it():
    run = harness.run_config(WIDER)
    policy = _one(_objects(run), "EnvoyExtensionPolicy")
    assert policy["spec"]["extProc"][0]["failOpen"] is True
    assert any("failOpen is true" in w and "uninspected" in w for w in run.warnings)
    assert not any("failOpen" in w for w in harness.run_config(CONTRACT).warnings)


def test_routes_reach_apps_and_services_with_a_grant_where_they_cross_namespaces():
    objects = _objects(harness.run_config(WIDER))
    web = objects[("HTTPRoute", "sigsci-gateway", "web")]
    assert web["spec"]["hostnames"] == ["shop.example.com"]
    assert web["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                          "name": "sigsci-gateway"}]
    # An app's own Service, which leads through its agent.
    assert web["spec"]["rules"][0]["backendRefs"] == [{"group": "", "kind": "Service", "name": "web",
                                                       "namespace": "default", "port": 8080}]
    grants = {(o["metadata"]["namespace"], o["spec"]["to"][0]["name"]): o for (k, _, _), o in objects.items()
              if k == "ReferenceGrant"}
    assert set(grants) == {("default", "web"), ("docs", "docs")}
    assert grants[("docs", "docs")]["spec"]["from"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                                         "namespace": "sigsci-gateway"}]


def test_an_existing_gateway_gets_the_policy_beside_it_and_a_grant_to_the_agents():
    run = harness.run_config({**BASE, "sigsci:gateway": {
        "existingGateway": {"namespace": "edge", "name": "public"}, "envoyGateway": {"enabled": False},
        "routes": [{"app": "web"}]}})
    schema_check.validate_run(run)
    objects = _objects(run)
    kinds = {k for k, _, _ in objects}
    assert "Gateway" not in kinds and "GatewayClass" not in kinds
    assert not [r for r in run.of_type(harness.RELEASE_TYPE)]
    policy = _one(objects, "EnvoyExtensionPolicy")
    assert policy["metadata"]["namespace"] == "edge"
    assert policy["spec"]["targetRefs"][0]["name"] == "public"
    assert policy["spec"]["extProc"][0]["backendRefs"][0]["namespace"] == "sigsci-gateway"
    grant = objects[("ReferenceGrant", "sigsci-gateway", "sigsci-waf.edge")]
    assert grant["spec"]["from"] == [{"group": "gateway.envoyproxy.io", "kind": "EnvoyExtensionPolicy",
                                      "namespace": "edge"}]
    # Envoy Gateway's namespace is not the stack's when it does not install it.
    assert ("Namespace", "", "envoy-gateway-system") not in objects


@pytest.mark.parametrize("gateway, key, words", [
    ({"bodyLimit": "8Mi", "messageTimeout": "2s"}, "messageTimeout", "at least 8000 ms"),
    ({"messageTimeout": "200ms"}, "messageTimeout", "at least 1000 ms"),
    ({"bodyLimit": "1.5Mi"}, "bodyLimit", "whole size"),
    ({"bodyLimit": "512"}, "bodyLimit", "between 1Ki and 64Mi"),
    ({"messageTimeout": "2 seconds"}, "messageTimeout", "Gateway API duration"),
    ({"routes": [{"app": "web", "pathType": "ImplementationSpecific"}]}, "routes[0].pathType",
     "no Gateway API equivalent"),
    ({"existingGateway": {"namespace": "edge", "name": "public"}, "listeners": {"httpPort": 8080}}, "listeners",
     "existingGateway"),
    ({"agent": {"startupProbe": {"enabled": True, "port": 9999}}}, "agent.startupProbe.port", "gRPC port"),
    ({"agent": {"options": {"envoy-grpc-address": "0.0.0.0:1"}}}, "agent.options.envoy-grpc-address",
     "cannot be set"),
    ({"agent": {"unlistedOptions": {"server-flavor": "x"}}}, "agent.unlistedOptions.server-flavor",
     "cannot be set"),
    ({"routes": [{"app": "nope"}]}, "routes[0].app", "not an app"),
    ({"implementation": "nginx"}, "implementation", "envoyGateway"),
    ({"implementation": "istio", "envoyGateway": {"enabled": False}}, "envoyGateway", "implementation envoyGateway"),
    ({"istio": {"clusterDomain": "corp.local"}}, "istio", "implementation istio"),
    ({"implementation": "istio", "agents": {"tls": {"secret": "t"}}}, "agents.tls", "mutual TLS"),
    ({"implementation": "istio", "istio": {"clusterDomain": "Corp_Local"}}, "istio.clusterDomain", "DNS-1123"),
    ({"implementation": "istio", "name": "g" * 64}, "name", "label value on the proxies"),
    ({"implementation": "istio", "existingGateway": {"namespace": "edge", "name": "g" * 64}},
     "existingGateway.name", "longer than 63"),
    # Envoy Gateway labels its proxies' objects with the Gateway's name too (owning-gateway-name).
    ({"name": "g" * 64}, "name", "owning-gateway-name"),
    ({"existingGateway": {"namespace": "edge", "name": "g" * 64}}, "existingGateway.name", "longer than 63"),
    # Envoy's ext_proc takes a message timeout of at most 1 h.
    ({"messageTimeout": "2h"}, "messageTimeout", "longer than 1h"),
    ({"implementation": "istio", "messageTimeout": "1h1ms"}, "messageTimeout", "longer than 1h"),
    # An existing Gateway of Envoy Gateway: Envoy Gateway already runs.
    ({"existingGateway": {"namespace": "edge", "name": "public"}, "envoyGateway": {"enabled": True}},
     "envoyGateway.enabled", "collides"),
    ({"envoyGateway": {"repository": "https://mirror:hunter2@charts.example.com/envoy"}},
     "envoyGateway.repository", "user name or password"),
    ({"envoyGateway": {"repository": "oci://robot:hunter2@registry.example.com/envoy"}},
     "envoyGateway.repository", "plain text"),
    ({"envoyGateway": {"repository": "ftp://charts.example.com"}}, "envoyGateway.repository",
     "https://…, http://… or oci://…"),
    ({"failOpen": "yes"}, "failOpen", "true or false"),
    ({"agents": {"tls": {"secret": "t", "hostname": "*.example.com"}}}, "agents.tls.hostname", "wildcard"),
    ({"agents": {"tls": {"caSecret": "ca"}}}, "agents.tls.secret", "required"),
    ({"agents": {"tls": {"secret": "Bad_Name"}}}, "agents.tls.secret", "DNS-1123 subdomain"),
])
def test_bad_gateway_config_is_refused_at_preview_naming_the_key(gateway, key, words):
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config({**BASE, "sigsci:gateway": gateway}, mocks=mocks)
    assert err.value.key == f"sigsci:gateway.{key}", err.value
    assert words in err.value.problem, err.value
    assert "hunter2" not in str(err.value)
    assert mocks.resources == []


def test_the_component_for_other_programs():
    def program():
        keys = SigsciSecret("keys", {"namespaces": ["web", "edge"], "site": "demo", "access_key_id": "id",
                                     "secret_access_key": "key"})
        web = SigsciRevProxyApp("web", {"secret_name": keys.secret_name, "namespace": "web",
                                        "image": "example/web:1.4.2", "port": 8080})
        SigsciGateway("edge", {"secret_name": keys.secret_name, "credentials_hash": keys.credentials_hash,
                               "namespace": "edge", "routes": [{"app": "web", "host": "web.example.com"}]},
                      apps=[web])
    run = harness.run(program)
    schema_check.validate_run(run)
    objects = _objects(run)
    assert objects[("HTTPRoute", "edge", "web")]["spec"]["hostnames"] == ["web.example.com"]
    deployment = objects[("Deployment", "edge", "sigsci-extproc")]
    assert "sigsci.fastly.com/credentials-hash" in deployment["spec"]["template"]["metadata"]["annotations"]
    with pytest.raises(ConfigError) as err:
        harness.run(lambda: SigsciGateway("edge", {"secret_name": "s", "bodyLimit": "1Mi"}))
    assert err.value.key == "SigsciGateway 'edge'.bodyLimit" and "body_limit" in err.value.problem


@pytest.mark.parametrize("tls, ca, hostname", [
    ({"secret": "agents-tls"}, "agents-tls", "sigsci-extproc.sigsci-gateway.svc"),
    ({"secret": "agents-tls", "caSecret": "agents-ca", "hostname": "waf.internal.example"}, "agents-ca",
     "waf.internal.example"),
], ids=["defaults", "own-ca-and-name"])
def test_tls_between_envoy_and_the_agents(tls, ca, hostname):
    run = harness.run_config({**CONTRACT, "sigsci:gateway": {**CONTRACT["sigsci:gateway"],
                                                             "agents": {"port": 7443, "tls": tls}}})
    schema_check.validate_run(run)
    objects = _objects(run)
    pod = objects[("Deployment", "sigsci-gateway", "sigsci-extproc")]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = env_of(container)
    mount = next(m for m in container["volumeMounts"] if m["name"] == "sigsci-grpc-tls")
    assert mount["readOnly"] is True
    assert env["SIGSCI_ENVOY_GRPC_CERT"] == f"{mount['mountPath']}/tls.crt"
    assert env["SIGSCI_ENVOY_GRPC_KEY"] == f"{mount['mountPath']}/tls.key"
    volume = next(v for v in pod["volumes"] if v["name"] == "sigsci-grpc-tls")
    assert volume["secret"]["secretName"] == "agents-tls"
    assert {i["key"] for i in volume["secret"]["items"]} == {"tls.crt", "tls.key"}
    # The kubelet's gRPC probe cannot speak TLS: readiness is the listener accepting connections.
    assert container["readinessProbe"]["tcpSocket"] == {"port": 7443} and "grpc" not in container["readinessProbe"]
    policy = objects[("BackendTLSPolicy", "sigsci-gateway", "sigsci-extproc")]
    assert policy["spec"]["targetRefs"] == [{"group": "", "kind": "Service", "name": "sigsci-extproc",
                                             "sectionName": "grpc"}]
    assert policy["spec"]["validation"] == {"caCertificateRefs": [{"group": "", "kind": "Secret", "name": ca}],
                                            "hostname": hostname}


def test_no_tls_means_no_backend_tls_policy_and_a_grpc_probe():
    objects = _objects(harness.run_config(CONTRACT))
    assert not [k for k in objects if k[0] == "BackendTLSPolicy"]
    container = objects[("Deployment", "sigsci-gateway", "sigsci-extproc")]["spec"]["template"]["spec"]["containers"][0]
    assert "SIGSCI_ENVOY_GRPC_CERT" not in env_of(container)


ISTIO = {**BASE, "sigsci:gateway": {"implementation": "istio",
                                    "routes": [{"app": "web", "host": "shop.example.com"},
                                               {"service": {"name": "docs", "port": 8080}, "namespace": "docs"}]}}


def _ext_proc(envoy_filter):
    return next(p for p in envoy_filter["spec"]["configPatches"] if p["applyTo"] == "HTTP_FILTER")["patch"]["value"]


def test_istio_the_same_agents_and_routes_and_an_envoy_filter_on_the_gateways_proxies():
    run = harness.run_config(ISTIO)
    schema_check.validate_run(run)  # Gateway API objects against their CRDs; the EnvoyFilter against Envoy's API
    objects = _objects(run)
    kinds = {k for k, _, _ in objects}
    # Istio's own GatewayClass, not one of ours; nothing of Envoy Gateway.
    assert not kinds & {"GatewayClass", "EnvoyExtensionPolicy", "ClientTrafficPolicy"}
    assert not [r for r in run.of_type(harness.RELEASE_TYPE) if "gateway-helm" in r.inputs["chart"]]
    assert ("Namespace", "", "envoy-gateway-system") not in objects
    gateway = objects[("Gateway", "sigsci-gateway", "sigsci-gateway")]
    assert gateway["spec"]["gatewayClassName"] == "istio"
    assert objects[("HTTPRoute", "sigsci-gateway", "web")]["spec"]["parentRefs"][0]["name"] == "sigsci-gateway"
    assert ("ReferenceGrant", "docs", "sigsci-gateway.sigsci-gateway.docs") in objects
    envoy_filter = objects[("EnvoyFilter", "sigsci-gateway", "sigsci-waf")]
    # Exactly the Gateway's proxies: Istio labels them with the Gateway's name.
    assert envoy_filter["spec"]["workloadSelector"] == {
        "labels": {"gateway.networking.k8s.io/gateway-name": "sigsci-gateway"}}
    config = _ext_proc(envoy_filter)["typed_config"]
    assert config["grpc_service"]["envoy_grpc"]["cluster_name"] == \
        "outbound|9999||sigsci-extproc.sigsci-gateway.svc.cluster.local"
    assert config["failure_mode_allow"] is False and config["message_timeout"] == "2s"
    assert config["processing_mode"] == {"request_header_mode": "SEND", "request_body_mode": "BUFFERED",
                                         "response_header_mode": "SEND", "response_body_mode": "BUFFERED"}
    listener = next(p for p in envoy_filter["spec"]["configPatches"] if p["applyTo"] == "LISTENER")
    assert listener["patch"] == {"operation": "MERGE", "value": {"per_connection_buffer_limit_bytes": 2 ** 20}}
    # Over HTTP/2 a stream buffers up to its window: the body limit too, on the Gateway's HTTP connection manager.
    window = next(p for p in envoy_filter["spec"]["configPatches"] if p["applyTo"] == "NETWORK_FILTER")
    assert window["match"] == {"context": "GATEWAY", "listener": {"filterChain": {"filter": {
        "name": "envoy.filters.network.http_connection_manager"}}}}
    assert window["patch"]["operation"] == "MERGE"
    assert window["patch"]["value"]["typed_config"]["http2_protocol_options"] == {"initial_stream_window_size": 2 ** 20}
    deployment = objects[("Deployment", "sigsci-gateway", "sigsci-extproc")]
    env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
    assert env["SIGSCI_ENVOY_EXTPROC_ENABLED"] == "true" and "SIGSCI_SERVER_FLAVOR" not in env
    policy = objects[("NetworkPolicy", "sigsci-gateway", "sigsci-extproc")]
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 9999, "protocol": "TCP"}], "from": [
        {"podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "sigsci-gateway"}}}]}]


def test_istio_on_an_existing_gateway_in_another_namespace_with_its_own_settings():
    objects = _objects(harness.run_config({**BASE, "sigsci:gateway": {
        "implementation": "istio", "existingGateway": {"namespace": "edge", "name": "public"},
        "istio": {"clusterDomain": "corp.example"}, "agents": {"port": 7000}, "bodyLimit": "4Mi",
        "messageTimeout": "1m30s", "inspectResponses": False, "failOpen": True,
        "routes": [{"app": "web", "host": "shop.example.com"}]}}))
    assert not [k for k in objects if k[0] == "Gateway"]
    envoy_filter = objects[("EnvoyFilter", "edge", "sigsci-waf")]
    assert envoy_filter["spec"]["workloadSelector"]["labels"] == {"gateway.networking.k8s.io/gateway-name": "public"}
    config = _ext_proc(envoy_filter)["typed_config"]
    assert config["grpc_service"]["envoy_grpc"]["cluster_name"] == \
        "outbound|7000||sigsci-extproc.sigsci-gateway.svc.corp.example"
    assert config["failure_mode_allow"] is True and config["message_timeout"] == "90s"
    assert config["processing_mode"]["response_header_mode"] == "SKIP"
    assert config["processing_mode"]["response_body_mode"] == "NONE"
    listener = next(p for p in envoy_filter["spec"]["configPatches"] if p["applyTo"] == "LISTENER")
    assert listener["patch"]["value"] == {"per_connection_buffer_limit_bytes": 4 * 2 ** 20}
    # The agents admit the Gateway's proxies in the Gateway's namespace only.
    peer = objects[("NetworkPolicy", "sigsci-gateway", "sigsci-extproc")]["spec"]["ingress"][0]["from"][0]
    assert peer == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}},
                    "podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "public"}}}
    assert objects[("HTTPRoute", "edge", "web")]["spec"]["parentRefs"][0]["name"] == "public"


@pytest.mark.parametrize("timeout, proto", [("500ms", "0.500s"), ("2s", "2s"), ("1m30s", "90s"),
                                            ("59m59s999ms", "3599.999s"), ("1h", "3600s")])
def test_istio_message_timeouts_in_protobufs_spelling(timeout, proto):
    objects = _objects(harness.run_config({**ISTIO, "sigsci:gateway": {
        **ISTIO["sigsci:gateway"], "bodyLimit": "1Ki", "messageTimeout": timeout}}))
    envoy_filter = objects[("EnvoyFilter", "sigsci-gateway", "sigsci-waf")]
    assert _ext_proc(envoy_filter)["typed_config"]["message_timeout"] == proto

    import envoy_api

    assert envoy_api.errors(envoy_filter) == []  # within Envoy's own bounds, 1 h the longest


@pytest.mark.parametrize("path, value, words", [
    (("typed_config", "processing_mode", "request_body_mode"), "BUFFER", "BUFFER"),
    (("typed_config", "message_timeout"), "1m30s", "message_timeout"),
    (("typed_config", "failure_mode_allowed"), False, "failure_mode_allowed"),
    (("typed_config", "@type"), "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProc", "ExtProc"),
    # Envoy's validate rules on the fields we set: message_timeout lte 3600s.
    (("typed_config", "message_timeout"), "3600.001s", "must be <= 3600s"),
], ids=["enum", "duration", "unknown-field", "unknown-type", "duration-over-envoys-bound"])
def test_the_envoy_api_check_refuses_what_envoy_would(path, value, words):
    """The oracle for the EnvoyFilter can fail: a patch Envoy would refuse is refused."""
    import copy

    import envoy_api

    envoy_filter = copy.deepcopy(_objects(harness.run_config(ISTIO))[("EnvoyFilter", "sigsci-gateway", "sigsci-waf")])
    assert envoy_api.errors(envoy_filter) == []
    place = _ext_proc(envoy_filter)
    for key in path[:-1]:
        place = place[key]
    place[path[-1]] = value
    problems = envoy_api.errors(envoy_filter)
    assert len(problems) == 1 and words in problems[0], problems


SIDE_BY_SIDE = {**BASE, "sigsci:ingress": {"routes": [
    {"app": "web", "host": "shop.example.com", "path": "/cart", "pathType": "Exact",
     "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}, "tlsSecret": "shop-tls"},
    {"service": {"name": "docs", "port": 8080}, "namespace": "docs"}]},
    "sigsci:gateway": {"ingressRoutes": True, "routes": [{"service": {"name": "api", "port": 80},
                                                          "host": "api.example.com"}]}}


def test_ingress_routes_serve_the_ingress_route_list_on_the_gateway_too():
    run = harness.run_config(SIDE_BY_SIDE)
    schema_check.validate_run(run)
    objects = _objects(run)
    # The ingress keeps its Ingresses; the Gateway gets the same hosts, paths and backends, and its own route.
    assert {k for k in objects if k[0] == "Ingress"} == {("Ingress", "default", "web"), ("Ingress", "docs", "docs")}
    web = objects[("HTTPRoute", "sigsci-gateway", "web")]["spec"]
    assert web["hostnames"] == ["shop.example.com"]
    assert web["rules"][0]["matches"] == [{"path": {"type": "Exact", "value": "/cart"}}]
    assert web["rules"][0]["backendRefs"][0]["name"] == "web"
    assert objects[("HTTPRoute", "sigsci-gateway", "docs")]["spec"]["rules"][0]["backendRefs"][0]["namespace"] == \
        "docs"
    assert ("HTTPRoute", "sigsci-gateway", "api") in objects
    # What has no Gateway API equivalent is listed, naming the ingress route's keys.
    warned = "\n".join(run.warnings)
    assert "sigsci:ingress.routes[0].annotations are not carried" in warned
    assert "sigsci:ingress.routes[0].tlsSecret is not served by the Gateway" in warned


def test_a_shared_tls_secret_the_listeners_serve_is_not_listed():
    config = {**SIDE_BY_SIDE, "sigsci:gateway": {**SIDE_BY_SIDE["sigsci:gateway"],
                                                 "listeners": {"tlsSecrets": ["shop-tls"]}}}
    run = harness.run_config(config)
    assert "tlsSecret is not served" not in "\n".join(run.warnings)
    assert "annotations are not carried" in "\n".join(run.warnings)


@pytest.mark.parametrize("config, key, words", [
    ({**BASE, "sigsci:ingress": {"routes": [{"app": "web", "path": "/api/.*", "pathType": "ImplementationSpecific"}]},
      "sigsci:gateway": {"ingressRoutes": True}}, "sigsci:ingress.routes[0].pathType", "ingressRoutes"),
    ({**BASE, "sigsci:gateway": {"ingressRoutes": True}}, "sigsci:gateway.ingressRoutes", "no sigsci:ingress"),
    # One namespace for every HTTPRoute: two ingress routes to Services named alike clash there.
    ({**BASE, "sigsci:ingress": {"routes": [{"service": {"name": "docs", "port": 80}, "namespace": "a"},
                                            {"service": {"name": "docs", "port": 80}, "namespace": "b",
                                             "host": "b.example.com"}]},
      "sigsci:gateway": {"ingressRoutes": True}}, "sigsci:ingress.routes[1].name", "sigsci:ingress.routes[0]"),
    # The gateway's own route clashing with a shared one is blamed on its own key.
    ({**BASE, "sigsci:ingress": {"routes": [{"app": "web", "host": "shop.example.com"}]},
      "sigsci:gateway": {"ingressRoutes": True, "routes": [{"service": {"name": "x", "port": 80},
                                                            "host": "shop.example.com"}]}},
     "sigsci:gateway.routes[0].path", "sigsci:ingress.routes[0]"),
    ({**BASE, "sigsci:gateway": {"ingressRoutes": "yes"}}, "sigsci:gateway.ingressRoutes", "true or false"),
], ids=["implementation-specific", "no-ingress", "name-clash", "rule-clash", "not-bool"])
def test_ingress_routes_refuse_what_the_gateway_cannot_serve(config, key, words):
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(config, mocks=mocks)
    assert err.value.key == key, err.value
    assert words in err.value.problem, err.value
    assert mocks.resources == []


def test_a_component_is_given_its_routes_itself():
    with pytest.raises(ConfigError) as err:
        harness.run(lambda: SigsciGateway("edge", {"secret_name": "s", "ingress_routes": True}))
    assert err.value.key == "SigsciGateway 'edge'.ingress_routes" and "no sigsci:ingress" in err.value.problem


@pytest.mark.parametrize("app, key", [
    ({"name": "sigsci-extproc", "image": "example/x:1", "port": 8080, "namespace": "sigsci-gateway"}, "name"),
    ({"name": "legacy", "placement": "patch", "deployment": "legacy", "service": "sigsci-extproc",
      "port": 8080, "namespace": "sigsci-gateway", "takeOver": ["service.targetPort"], "ownerTargetPort": 8080}, "service"),
    ({"name": "legacy", "placement": "patch", "deployment": "sigsci-extproc", "service": "legacy",
      "port": 8080, "namespace": "sigsci-gateway", "takeOver": ["service.targetPort"], "ownerTargetPort": 8080}, "deployment"),
], ids=["owned", "patched-service", "patched-deployment"])
def test_an_app_may_not_take_the_gateway_agents_name_in_their_namespace(app, key):
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config({**CONTRACT, "sigsci:apps": [*BASE["sigsci:apps"], app]}, mocks=mocks)
    assert err.value.key == f"sigsci:apps[1].{key}", err.value
    assert "gateway's agents" in err.value.problem and mocks.resources == []


def test_the_agents_name_is_free_in_other_namespaces():
    app = {"name": "sigsci-extproc", "image": "example/x:1", "port": 8080, "namespace": "shop"}
    harness.run_config({**CONTRACT, "sigsci:apps": [*BASE["sigsci:apps"], app]})


@pytest.mark.parametrize("args, key", [
    ({"namespace": "OUT"}, "namespace"),
    ({"routes": [{"service": {"name": "OUT", "port": 80}}]}, "routes[0].service.name"),
    ({"agents": {"tls": {"secret": "OUT"}}}, "agents.tls.secret"),
], ids=["namespace", "nested", "deeper"])
def test_the_gateway_takes_plain_settings_and_says_so_for_an_output(args, key):
    import json

    import pulumi

    def program():
        out = pulumi.Output.from_input("edge")
        filled = json.loads(json.dumps(args), object_hook=lambda d: {k: out if v == "OUT" else v for k, v in d.items()})
        SigsciGateway("edge", {"secret_name": "s", **filled})

    with pytest.raises(ConfigError) as err:
        harness.run(program)
    assert err.value.key == f"SigsciGateway 'edge'.{key}" and "plain value" in err.value.problem, err.value


EXISTING = {**BASE, "sigsci:gateway": {"existingGateway": {"namespace": "edge", "name": "public"},
                                       "envoyGateway": {"enabled": False}, "routes": [{"app": "web"}]}}


def test_an_existing_gateway_is_read_and_what_relies_on_it_waits_for_the_check():
    run = harness.run_config(EXISTING)
    reads = [r for r in run.resources if r.read]
    assert {r.type for r in reads} == {"kubernetes:gateway.networking.k8s.io/v1:Gateway",
                                       "kubernetes:gateway.networking.k8s.io/v1:GatewayClass"}
    objects = _objects(run)
    for key in (("EnvoyExtensionPolicy", "edge", "sigsci-waf"), ("ClientTrafficPolicy", "edge", "sigsci-waf"),
                ("HTTPRoute", "edge", "web")):
        assert objects[key]["metadata"]["annotations"]["sigsci.fastly.com/gateway-controller"] == \
            "gateway.envoyproxy.io/gatewayclass-controller", key


@pytest.mark.parametrize("config, live, words", [
    (EXISTING, harness.existing_gateway("edge", "public", "istio.io/gateway-controller", "istio"),
     "whose controller is 'istio.io/gateway-controller'"),
    ({**EXISTING, "sigsci:gateway": {**EXISTING["sigsci:gateway"], "implementation": "istio",
                                     "envoyGateway": None}},
     harness.existing_gateway("edge", "public", "gateway.envoyproxy.io/gatewayclass-controller"),
     "not 'istio.io/gateway-controller'"),
    ({**EXISTING, "sigsci:gateway": {**EXISTING["sigsci:gateway"], "implementation": "istio",
                                     "envoyGateway": None}},
     harness.existing_gateway("edge", "public", "istio.io/gateway-controller", "istio",
                              addresses=[{"type": "Hostname", "value": "istio-ingressgateway.istio-system.svc"}]),
     "manual deployment"),
], ids=["istio-gateway-for-envoy-gateway", "envoy-gateway-for-istio", "istio-manual-deployment"])
def test_an_existing_gateway_the_implementation_does_not_serve_is_refused(config, live, words):
    config = {**config, "sigsci:gateway": {k: v for k, v in config["sigsci:gateway"].items() if v is not None}}
    mocks = harness.CaptureMocks(live=live)
    with pytest.raises(ConfigError) as err:
        harness.run_config(config, mocks=mocks)
    assert err.value.key == "sigsci:gateway.existingGateway", err.value
    assert words in err.value.problem, err.value
    # Nothing that relies on the Gateway was created.
    created = {harness.clean(r.inputs).get("kind") for r in mocks.resources if not r.read}
    assert not created & {"EnvoyExtensionPolicy", "EnvoyFilter", "HTTPRoute"}


@pytest.mark.parametrize("config, inspector", [(CONTRACT, "EnvoyExtensionPolicy"), (ISTIO, "EnvoyFilter")],
                         ids=["envoy-gateway", "istio"])
def test_routes_wait_for_what_inspects_them(config, inspector):
    """No window in which a route serves traffic the WAF does not see yet: every HTTPRoute depends on the
    policy (or filter), which Pulumi counts created once Envoy Gateway has accepted it."""
    mocks = harness.CaptureMocks()
    run = harness.run_config(config, mocks=mocks)
    policy = next(r for r in run.resources if harness.clean(r.inputs).get("kind") == inspector)
    routes = [r for r in run.resources if harness.clean(r.inputs).get("kind") == "HTTPRoute"]
    assert routes
    for route in routes:
        assert policy.name in mocks.options[route.name]["dependsOn"], route.name
    if inspector == "EnvoyExtensionPolicy":
        wait = harness.clean(policy.inputs)["metadata"]["annotations"]["pulumi.com/waitFor"]
        assert wait == 'jsonpath={.status.ancestors[0].conditions[?(@.type=="Accepted")].status}=True'



@pytest.mark.parametrize("config, inspector", [(CONTRACT, "EnvoyExtensionPolicy"), (ISTIO, "EnvoyFilter"),
                                               (EXISTING, "EnvoyExtensionPolicy")],
                         ids=["envoy-gateway", "istio", "existing-gateway"])
def test_what_sends_traffic_to_the_agents_waits_for_their_rollout(config, inspector):
    """The policy (or filter) that sends every request to the agents waits for their Deployment, which Pulumi
    counts done once its rollout is ready (no skipAwait), and their Service; each agent is ready only once its
    startup probe says its rules are loaded."""
    mocks = harness.CaptureMocks()
    run = harness.run_config(config, mocks=mocks)
    [policy] = [r for r in run.resources if harness.clean(r.inputs).get("kind") == inspector]
    [deployment] = [r for r in run.resources if r.name == "gateway-agent-deployment"]
    assert deployment.type == "kubernetes:apps/v1:Deployment"
    assert {"gateway-agent-deployment", "gateway-agent-service"} <= set(mocks.options[policy.name]["dependsOn"])
    manifest = clean(deployment.inputs)
    assert not any(k.startswith("pulumi.com/skip") for k in manifest["metadata"].get("annotations", {}))
    [agent] = manifest["spec"]["template"]["spec"]["containers"]
    assert agent["startupProbe"]["httpGet"]["path"] == "/startup" and "readinessProbe" in agent


def test_a_refused_existing_gateway_is_one_line_not_a_traceback(capfd):
    """The check fails where the value becomes known; what waited on it must not add asyncio tracebacks."""
    import gc

    for _ in range(3):  # the failed futures are collected when a later run's loop runs
        with pytest.raises(ConfigError):
            harness.run_config(EXISTING, mocks=harness.CaptureMocks(
                live=harness.existing_gateway("edge", "public", "istio.io/gateway-controller", "istio")))
    harness.run_config(CONTRACT)
    gc.collect()
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "never retrieved" not in captured.err, captured.err


def test_the_envoy_filter_is_valid_for_istios_own_crd():
    """Where Istio's pinned CRDs are here (scripts/fetch_reference.py fetches them with the others); else skipped,
    saying so. The patches are checked against Envoy's API on every run regardless."""
    import crd_schema

    why = crd_schema.optional_missing(schema_check.ISTIO_CRDS)
    if why is not None:
        pytest.skip(why)
    for config in (ISTIO, {**BASE, "sigsci:gateway": {"implementation": "istio", "inspectResponses": False,
                                                      "existingGateway": {"namespace": "edge", "name": "public"},
                                                      "failOpen": True, "routes": [{"app": "web"}]}}):
        envoy_filter = next(o for (kind, _, _), o in _objects(harness.run_config(config)).items()
                            if kind == "EnvoyFilter")
        assert crd_schema.validate(envoy_filter) == []
        broken = {**envoy_filter, "spec": {**envoy_filter["spec"], "workloadSelecter": {"labels": {}}}}
        assert crd_schema.validate(broken) == ['unknown field "spec.workloadSelecter"']


def _window(objects):
    """The HTTP/2 stream window the gateway's policy (Envoy Gateway) or filter (Istio) sets."""
    for (kind, _, _), obj in objects.items():
        if kind == "ClientTrafficPolicy":
            return obj["spec"]["http2"]["initialStreamWindowSize"]
        if kind == "EnvoyFilter":
            patch = next(p for p in obj["spec"]["configPatches"] if p["applyTo"] == "NETWORK_FILTER")
            return patch["patch"]["value"]["typed_config"]["http2_protocol_options"]["initial_stream_window_size"]
    raise AssertionError("no policy or filter")


@pytest.mark.parametrize("implementation", ["envoyGateway", "istio"])
@pytest.mark.parametrize("limit, window", [("1Ki", 65535), ("60Ki", 65535), ("64Ki", 65536), ("8Mi", 8 << 20),
                                           ("64Mi", 64 << 20)])
def test_the_http2_stream_window_is_the_body_limit_within_envoys_bounds(implementation, limit, window):
    """HTTP/2 buffers a body in its stream's window (Envoy Gateway's default 64 KiB), whatever the connection's
    buffer: the body limit sets both, the window no lower than Envoy's 65535."""
    import envoy_api

    run = harness.run_config({**BASE, "sigsci:gateway": {"implementation": implementation, "bodyLimit": limit,
                                                         "messageTimeout": "64s", "routes": [{"app": "web"}]}})
    schema_check.validate_run(run)
    objects = _objects(run)
    assert _window(objects) == window
    for (kind, _, _), obj in objects.items():
        if kind == "EnvoyFilter":
            assert envoy_api.errors(obj) == []


def test_the_envoy_api_check_holds_the_window_to_envoys_bounds():
    """The oracle can fail: a window under Envoy's 65535 breaks its validate rule."""
    import copy

    import envoy_api

    envoy_filter = copy.deepcopy(_objects(harness.run_config(ISTIO))[("EnvoyFilter", "sigsci-gateway", "sigsci-waf")])
    patch = next(p for p in envoy_filter["spec"]["configPatches"] if p["applyTo"] == "NETWORK_FILTER")
    patch["patch"]["value"]["typed_config"]["http2_protocol_options"]["initial_stream_window_size"] = 1024
    problems = envoy_api.errors(envoy_filter)
    assert len(problems) == 1 and "initial_stream_window_size: must be >= 65535" in problems[0], problems


def _live_gateway(**spec):
    live = harness.existing_gateway("edge", "public", harness.GATEWAY_CONTROLLERS["envoyGateway"])
    live["edge/public"]["spec"].update(spec)
    return live


@pytest.mark.parametrize("implementation", ["envoyGateway", "istio"])
@pytest.mark.parametrize("spec, words", [
    ({"listeners": [{"name": "http", "port": 80, "protocol": "HTTP"},
                    {"name": "tls", "port": 8443, "protocol": "TLS", "tls": {"mode": "Passthrough"}}]}, "tls (TLS)"),
    ({"listeners": [{"name": "db", "port": 5432, "protocol": "TCP"}]}, "db (TCP)"),
    ({"listeners": [{"name": "dns", "port": 53, "protocol": "UDP"}]}, "dns (UDP)"),
    ({"allowedListeners": {"namespaces": {"from": "All"}}}, "ListenerSets"),
    ({"allowedListeners": {"namespaces": {"from": "Same"}}}, "from Same"),
], ids=["tls-passthrough", "tcp", "udp", "listener-sets-all", "listener-sets-same"])
def test_an_existing_gateway_with_traffic_ext_proc_cannot_see_is_refused(implementation, spec, words):
    """ext_proc is an HTTP filter: TLSRoute, TCPRoute and UDPRoute traffic on such a listener would pass
    uninspected, and ListenerSets can add such listeners at any time."""
    live = _live_gateway(**spec)
    live["existing-class"]["spec"]["controllerName"] = harness.GATEWAY_CONTROLLERS[implementation]
    mocks = harness.CaptureMocks(live=live)
    with pytest.raises(ConfigError) as err:
        harness.run_config({**BASE, "sigsci:gateway": {"implementation": implementation,
                                                       "existingGateway": {"namespace": "edge", "name": "public"},
                                                       "routes": [{"app": "web"}]}}, mocks=mocks)
    assert err.value.key == "sigsci:gateway.existingGateway" and words in err.value.problem, err.value
    created = {harness.clean(r.inputs).get("kind") for r in mocks.resources if not r.read}
    assert not created & {"EnvoyExtensionPolicy", "ClientTrafficPolicy", "EnvoyFilter", "HTTPRoute"}


@pytest.mark.parametrize("spec", [
    {"listeners": [{"name": "http", "port": 80, "protocol": "HTTP"},
                   {"name": "https", "port": 443, "protocol": "HTTPS", "tls": {"mode": "Terminate"}}]},
    {"allowedListeners": {"namespaces": {"from": "None"}}},
    {"allowedListeners": {}},
], ids=["http-and-https", "listener-sets-none", "listener-sets-default"])
def test_an_existing_gateway_of_http_listeners_only_is_accepted(spec):
    run = harness.run_config(EXISTING, mocks=harness.CaptureMocks(live=_live_gateway(**spec)))
    assert ("EnvoyExtensionPolicy", "edge", "sigsci-waf") in _objects(run)


def test_an_existing_gateway_does_not_install_envoy_gateway_by_default():
    """An existing Gateway of Envoy Gateway means Envoy Gateway runs: a second install would collide."""
    run = harness.run_config({**BASE, "sigsci:gateway": {"existingGateway": {"namespace": "edge", "name": "public"},
                                                         "routes": [{"app": "web"}]}})
    assert not [r for r in run.of_type(harness.RELEASE_TYPE)]
    assert ("Namespace", "", "envoy-gateway-system") not in _objects(run)


CLASS_CONTROLLERS = {"envoy": "gateway.envoyproxy.io/gatewayclass-controller", "istio": "istio.io/gateway-controller"}


@pytest.mark.parametrize("gateway, live_class, controller", [
    ({"implementation": "istio"}, "istio", CLASS_CONTROLLERS["envoy"]),
    ({"implementation": "istio", "gatewayClass": "eg"}, "eg", CLASS_CONTROLLERS["envoy"]),
    ({"gatewayClass": "eg", "envoyGateway": {"enabled": False}}, "eg", CLASS_CONTROLLERS["istio"]),
    ({"gatewayClass": "eg", "envoyGateway": {"enabled": False}}, "eg", None),
], ids=["istio-class-of-envoy-gateway", "istio-named-class-of-envoy-gateway", "envoy-gateway-class-of-istio",
        "envoy-gateway-class-missing"])
def test_a_class_the_stack_does_not_create_is_read_and_one_of_another_controller_refused(gateway, live_class,
                                                                                          controller):
    """Another controller would serve the Gateway and ignore the WAF's policy or filter: refused at preview, naming
    gatewayClass, before the Gateway, the policy or filter and the routes."""
    mocks = harness.CaptureMocks(live={live_class: {"spec": {"controllerName": controller} if controller else {}}})
    with pytest.raises(ConfigError) as err:
        harness.run_config({**BASE, "sigsci:gateway": {**gateway, "routes": [{"app": "web"}]}}, mocks=mocks)
    assert err.value.key == "sigsci:gateway.gatewayClass", err.value
    assert f"class {live_class!r}" in err.value.problem, err.value
    created = {harness.clean(r.inputs).get("kind") for r in mocks.resources if not r.read}
    assert not created & {"Gateway", "GatewayClass", "EnvoyExtensionPolicy", "EnvoyFilter", "HTTPRoute"}


@pytest.mark.parametrize("gateway, reads, creates", [
    ({}, False, "sigsci-envoy"),
    ({"gatewayClass": "eg"}, False, "eg"),  # the stack installs Envoy Gateway: the class is its own
    ({"envoyGateway": {"enabled": False}}, False, "sigsci-envoy"),
    ({"gatewayClass": "eg", "envoyGateway": {"enabled": False}}, True, None),  # a class Envoy Gateway serves
    ({"implementation": "istio"}, True, None),
], ids=["default", "named-with-install", "unnamed-without-install", "named-without-install", "istio"])
def test_the_gateway_class_is_created_only_where_the_stack_owns_it(gateway, reads, creates):
    run = harness.run_config({**BASE, "sigsci:gateway": {**gateway, "routes": [{"app": "web"}]}})
    schema_check.validate_run(run)
    objects = _objects(run)
    assert [name for (kind, _, name) in objects if kind == "GatewayClass"] == ([creates] if creates else [])
    read = [r for r in run.resources if r.read]
    assert [r.type for r in read] == (["kubernetes:gateway.networking.k8s.io/v1:GatewayClass"] if reads else [])
    checked = objects[("Gateway", "sigsci-gateway", "sigsci-gateway")]["metadata"].get("annotations") or {}
    assert ("sigsci.fastly.com/gateway-controller" in checked) is reads


@pytest.mark.parametrize("repository, chart, repo", [
    ("oci://docker.io/envoyproxy", "oci://docker.io/envoyproxy/gateway-helm", None),
    ("oci://registry.example.com/mirror/", "oci://registry.example.com/mirror/gateway-helm", None),
    ("https://charts.example.com/envoy", "gateway-helm", "https://charts.example.com/envoy"),
    ("http://charts.internal/envoy", "gateway-helm", "http://charts.internal/envoy"),
], ids=["oci-default", "oci-mirror", "https", "http"])
def test_envoy_gateways_chart_from_oci_or_a_classic_repository(repository, chart, repo):
    """Helm reads an http(s) chart reference as a chart archive's URL: a classic repository goes to
    repositoryOpts, beside the chart's bare name."""
    run = harness.run_config({**CONTRACT, "sigsci:gateway": {**CONTRACT["sigsci:gateway"],
                                                             "envoyGateway": {"repository": repository}}})
    release = next(r for r in run.of_type(harness.RELEASE_TYPE) if r.inputs["chart"].endswith("gateway-helm"))
    assert release.inputs["chart"] == chart
    assert release.inputs.get("repositoryOpts") == ({"repo": repo} if repo else None)


def test_the_backend_tls_policy_waits_for_envoy_gateways_install():
    """A Gateway API kind: on a fresh cluster its CRD comes with Envoy Gateway's chart."""
    mocks = harness.CaptureMocks()
    run = harness.run_config({**CONTRACT, "sigsci:gateway": {**CONTRACT["sigsci:gateway"],
                                                             "agents": {"tls": {"secret": "agents-tls"}}}},
                             mocks=mocks)
    release = next(r for r in run.of_type(harness.RELEASE_TYPE) if r.inputs["chart"].endswith("gateway-helm"))
    policy = next(r for r in run.resources if harness.clean(r.inputs).get("kind") == "BackendTLSPolicy")
    assert release.name in mocks.options[policy.name]["dependsOn"]
