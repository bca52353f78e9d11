"""SigsciIngressController: the Helm release, the module wiring, the agent lifetimes, routes and outputs."""

import pytest

import harness
from harness import RELEASE_TYPE, clean, env_of, unwrap_secrets
from ingress_configs import INGRESS_CONFIGS, ingress_config
from sigsci_waf.config.errors import ConfigError
from sigsci_waf.ingress.flavours import MODULE_PATH

INGRESS_TYPE = "kubernetes:networking.k8s.io/v1:Ingress"


def release_of(run) -> dict:
    releases = run.of_type(RELEASE_TYPE)
    assert len(releases) == 1, [r.name for r in run.resources]
    return unwrap_secrets(clean(releases[0].inputs))


@pytest.fixture(scope="module")
def default_run():
    return harness.run_config(ingress_config(routes=[{"host": "web.example.com", "app": "web"}]))


def test_release_is_pinned_atomic_and_named(default_run):
    release = release_of(default_run)
    assert release["chart"] == "ingress-nginx"
    assert release["version"] == "4.15.1"
    assert release["repositoryOpts"] == {"repo": "https://kubernetes.github.io/ingress-nginx"}
    assert release["name"] == "sigsci-ingress-nginx"
    assert release["namespace"] == "sigsci-ingress"
    assert release["atomic"] is True and release["cleanupOnFail"] is True


def test_fastly_image_replaces_the_stock_one_and_its_digest(default_run):
    image = release_of(default_run)["values"]["controller"]["image"]
    assert image["repository"] == "signalsciences/sigsci-nginx-ingress-controller"
    assert image["tag"] == "1.15.1-fastly1.4.0"
    # The chart's default digest would pin the stock controller under our tag (DOMAIN.md "Trap").
    assert image["digest"] == "" and image["digestChroot"] == ""


def test_module_snippets_point_at_the_agents_socket(default_run):
    controller = release_of(default_run)["values"]["controller"]
    assert controller["config"]["main-snippet"] == f"load_module {MODULE_PATH};"
    agent = controller["extraInitContainers"][0]
    socket = env_of(agent)["SIGSCI_RPC_ADDRESS"]
    assert controller["config"]["http-snippet"] == f"sigsci_agent_host unix:{socket};"


def test_moving_the_temp_volume_moves_both_ends():
    run = harness.run_config(ingress_config(agent={"tmpMountPath": "/var/run/sigsci"}))
    controller = release_of(run)["values"]["controller"]
    agent = controller["extraInitContainers"][0]
    assert env_of(agent)["SIGSCI_RPC_ADDRESS"] == "/var/run/sigsci/sigsci.sock"
    assert controller["config"]["http-snippet"] == "sigsci_agent_host unix:/var/run/sigsci/sigsci.sock;"
    assert controller["extraVolumeMounts"] == [{"name": "sigsci-tmp", "mountPath": "/var/run/sigsci"}]
    assert agent["volumeMounts"] == [{"name": "sigsci-tmp", "mountPath": "/var/run/sigsci"}]


def test_native_sidecar_by_default(default_run):
    controller = release_of(default_run)["values"]["controller"]
    agent = controller["extraInitContainers"][0]
    assert agent["name"] == "sigsci-agent" and agent["restartPolicy"] == "Always"
    # Kubernetes stops a native sidecar after the controller: no sleep needed, nothing to outlast.
    assert "lifecycle" not in agent
    assert "extraContainers" not in controller
    assert controller["extraVolumes"] == [{"name": "sigsci-tmp", "emptyDir": {}}]
    assert controller["extraVolumeMounts"][0]["mountPath"] == agent["volumeMounts"][0]["mountPath"]
    assert controller["terminationGracePeriodSeconds"] == 300


def test_agent_credentials_come_from_the_secret(default_run):
    controller = release_of(default_run)["values"]["controller"]
    env = env_of(controller["extraInitContainers"][0])
    assert env["SIGSCI_ACCESSKEYID"] == {"secretKeyRef": {"name": "sigsci.demo", "key": "accesskeyid"}}
    assert env["SIGSCI_SECRETACCESSKEY"] == {"secretKeyRef": {"name": "sigsci.demo", "key": "secretaccesskey"}}
    secrets = [clean(r.inputs) for r in default_run.of_type("kubernetes:core/v1:Secret")]
    assert {s["metadata"]["namespace"] for s in secrets} == {"default", "sigsci-ingress"}
    # Rotating the keys rolls the controller pods.
    assert "sigsci.fastly.com/credentials-hash" in controller["podAnnotations"]


def test_classic_sidecar_outlives_the_controllers_drain():
    run = harness.run_config(INGRESS_CONFIGS["ingress-nginx-classic"])
    controller = release_of(run)["values"]["controller"]
    agent = controller["extraContainers"][0]
    assert "restartPolicy" not in agent and "extraInitContainers" not in controller
    grace = controller["terminationGracePeriodSeconds"]
    assert agent["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(grace)]


def test_agents_as_a_service_are_reached_over_tcp_with_client_ip_affinity():
    run = harness.run_config(INGRESS_CONFIGS["ingress-nginx-service"])
    controller = release_of(run)["values"]["controller"]
    assert not {"extraContainers", "extraInitContainers", "extraVolumes"} & set(controller)
    service = clean(run.named("ingress-agent-service").inputs)
    deployment = clean(run.named("ingress-agent-deployment").inputs)
    policy = clean(run.named("ingress-agent-networkpolicy").inputs)
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    port = service["spec"]["ports"][0]["port"]
    name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
    assert controller["config"]["http-snippet"] == f"sigsci_agent_host {name}.{namespace}.svc:{port};"
    agent = deployment["spec"]["template"]["spec"]["containers"][0]
    assert env_of(agent)["SIGSCI_RPC_ADDRESS"] == f"0.0.0.0:{port}"
    assert deployment["spec"]["replicas"] == 2
    # Only the controller pods may talk to the agents.
    # (the chart's controller selector: name, instance and component, controller-deployment.yaml)
    assert policy["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/instance": "sigsci-ingress-nginx",
        "app.kubernetes.io/component": "controller"}}}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    # The agents run before the controller needs them.
    release = next(r for r in run.resources if r.type == RELEASE_TYPE)
    assert release.inputs


def test_f5_flavour_uses_its_own_values_layout():
    run = harness.run_config(INGRESS_CONFIGS["nginx-ingress-classic"])
    release = release_of(run)
    assert release["chart"] == "nginx-ingress" and release["version"] == "2.5.0"
    assert release["repositoryOpts"] == {"repo": "https://helm.nginx.com/stable"}
    controller = release["values"]["controller"]
    assert controller["image"] == {"repository": "signalsciences/sigsci-nginxinc-ingress-controller",
                                   "tag": "5.4.0", "pullPolicy": "IfNotPresent"}
    entries = controller["config"]["entries"]
    assert entries["main-snippets"] == f"load_module {MODULE_PATH};"
    assert entries["http-snippets"] == "sigsci_agent_host unix:/sigsci/tmp/sigsci.sock;"
    assert controller["extraContainers"][0]["name"] == "sigsci-agent"
    assert controller["volumes"] == [{"name": "sigsci-tmp", "emptyDir": {}}]
    assert controller["volumeMounts"] == [{"name": "sigsci-tmp", "mountPath": "/sigsci/tmp"}]
    assert controller["ingressClass"] == {"name": "sigsci-nginx", "create": True, "setAsDefaultIngress": False}
    assert "sigsci.fastly.com/credentials-hash" in controller["pod"]["annotations"]
    assert controller["service"] == {"type": "NodePort", "externalTrafficPolicy": "Cluster", "annotations": {}}


def test_f5_native_sidecar_goes_to_init_containers():
    run = harness.run_config(ingress_config(flavour="nginx-ingress"))
    controller = release_of(run)["values"]["controller"]
    assert controller["initContainers"][0]["restartPolicy"] == "Always"


def test_chainguard_flavour_swaps_only_the_image():
    chainguard = release_of(harness.run_config(ingress_config(flavour="ingress-nginx-chainguard")))
    stock = release_of(harness.run_config(ingress_config()))
    assert chainguard["chart"] == stock["chart"] and chainguard["version"] == stock["version"]
    # Same release in the same namespace: moving to the maintained image is an in-place helm upgrade
    # (a rolling update of the controller pods), not a replacement (README, Upgrades).
    assert (chainguard["name"], chainguard["namespace"]) == (stock["name"], stock["namespace"])
    image = chainguard["values"]["controller"]["image"]
    assert image["repository"] == "signalsciences/sigsci-nginx-ingress-controller-chainguard"
    assert image["tag"] == "v1.15.6"
    assert image["digest"] == ""
    rest = {k: v for k, v in chainguard["values"]["controller"].items() if k != "image"}
    assert rest == {k: v for k, v in stock["values"]["controller"].items() if k != "image"}


def test_our_own_ingress_class_and_controller_value(default_run):
    controller = release_of(default_run)["values"]["controller"]
    assert controller["ingressClassResource"] == {"name": "sigsci-nginx", "enabled": True, "default": False,
                                                  "controllerValue": "k8s.io/sigsci-nginx"}
    assert controller["ingressClass"] == "sigsci-nginx"


def test_controller_service_defaults_keep_client_ips(default_run):
    service = release_of(default_run)["values"]["controller"]["service"]
    assert service == {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "annotations": {}}


def test_cluster_ip_service_sends_no_traffic_policy():
    run = harness.run_config(INGRESS_CONFIGS["ingress-nginx-service"])
    assert release_of(run)["values"]["controller"]["service"] == {"type": "ClusterIP", "annotations": {}}


def test_routes_become_ingresses_of_our_class(default_run):
    (ingress,) = [clean(r.inputs) for r in default_run.of_type(INGRESS_TYPE)]
    assert ingress["metadata"]["namespace"] == "default"
    assert ingress["spec"]["ingressClassName"] == "sigsci-nginx"
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "web.example.com"
    assert rule["http"]["paths"] == [{"path": "/", "pathType": "Prefix",
                                      "backend": {"service": {"name": "web", "port": {"number": 8080}}}}]
    assert any("inspected twice" in w for w in default_run.warnings)


HOSTLESS = [{"app": "web", "host": "web.example.com"}, {"app": "web", "name": "any-host", "path": "/any"}]


@pytest.mark.parametrize("flavour", ["ingress-nginx", "ingress-nginx-chainguard"])
def test_ingress_nginx_flavours_serve_a_route_without_host(flavour):
    run = harness.run_config(ingress_config(flavour=flavour, routes=HOSTLESS))
    rules = {clean(r.inputs)["metadata"]["name"]: clean(r.inputs)["spec"]["rules"] for r in run.of_type(INGRESS_TYPE)}
    assert "host" not in rules["any-host"][0] and rules["web"][0]["host"] == "web.example.com"


def test_f5_flavour_refuses_a_route_without_host():
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(flavour="nginx-ingress", routes=HOSTLESS))
    assert err.value.key == "sigsci:ingress.routes[1].host"
    assert "F5's NGINX Ingress Controller serves only Ingress rules with a host" in err.value.problem
    assert "\n" not in str(err.value)


def test_f5_flavour_leaves_the_gateways_own_routes_without_host_alone():
    config = {**ingress_config(flavour="nginx-ingress", routes=HOSTLESS[:1]),
              "sigsci:gateway": {"routes": [{"app": "web", "name": "any-host"}]}}
    harness.run_config(config)
    # Served on the Gateway too, an ingress route is still the controller's: the rule holds for it.
    with pytest.raises(ConfigError) as err:
        harness.run_config({**ingress_config(flavour="nginx-ingress", routes=HOSTLESS),
                            "sigsci:gateway": {"ingressRoutes": True}})
    assert err.value.key == "sigsci:ingress.routes[1].host"


def test_route_to_a_service_with_annotations_and_tls():
    config = ingress_config(routes=[{"name": "docs", "host": "docs.example.com", "path": "/v1", "pathType": "Exact",
                                     "namespace": "docs", "service": {"name": "docs-web", "port": 80},
                                     "tlsSecret": "docs-tls",
                                     "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"}}])
    run = harness.run_config(config)
    (ingress,) = [clean(r.inputs) for r in run.of_type(INGRESS_TYPE)]
    assert ingress["metadata"]["name"] == "docs" and ingress["metadata"]["namespace"] == "docs"
    assert ingress["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/rewrite-target": "/"}
    assert ingress["spec"]["tls"] == [{"hosts": ["docs.example.com"], "secretName": "docs-tls"}]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["pathType"] == "Exact"
    assert not any("inspected twice" in w for w in run.warnings)


def test_route_to_a_patched_app_uses_its_existing_service():
    config = ingress_config(routes=[{"app": "shop"}])
    config["sigsci:apps"] = [{"name": "shop", "placement": "patch", "takeOver": ["service.targetPort"], "deployment": "shop-web",
                              "service": "shop-web", "port": 8080, "servicePort": 80}]
    (ingress,) = [clean(r.inputs) for r in harness.run_config(config).of_type(INGRESS_TYPE)]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "shop-web", "port": {"number": 80}}
    assert "host" not in ingress["spec"]["rules"][0]


def test_extra_values_merge_under_ours():
    run = harness.run_config(ingress_config(extraValues={
        "controller": {"config": {"use-forwarded-headers": "true"}, "nodeSelector": {"pool": "edge"},
                       "service": {"annotations": {}}},
        "defaultBackend": {"enabled": True}}))
    values = release_of(run)["values"]
    assert values["controller"]["config"]["use-forwarded-headers"] == "true"
    assert values["controller"]["config"]["main-snippet"].startswith("load_module")
    assert values["controller"]["nodeSelector"] == {"pool": "edge"}
    assert values["defaultBackend"] == {"enabled": True}


def test_existing_namespace_is_not_created():
    run = harness.run_config(INGRESS_CONFIGS["chainguard-native"])
    assert run.of_type("kubernetes:core/v1:Namespace") == []
    assert release_of(run)["namespace"] == "edge"


def test_created_namespace_comes_before_the_secret_in_it(default_run):
    (namespace,) = [clean(r.inputs) for r in default_run.of_type("kubernetes:core/v1:Namespace")]
    assert namespace["metadata"]["name"] == "sigsci-ingress"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"


def test_user_digest_is_kept():
    run = harness.run_config(INGRESS_CONFIGS["chainguard-native"])
    image = release_of(run)["values"]["controller"]["image"]
    assert image["digest"] == "sha256:" + "ab" * 32 and image["digestChroot"] == ""


def test_oci_mirror_is_a_chart_reference():
    run = harness.run_config(ingress_config(chart={"repository": "oci://mirror.example/charts"}))
    release = release_of(run)
    assert release["chart"] == "oci://mirror.example/charts/ingress-nginx"
    assert "repositoryOpts" not in release


def test_stack_outputs_describe_the_controller(default_run):
    assert default_run.outputs["ingress"] == {
        "namespace": "sigsci-ingress", "releaseName": "sigsci-ingress-nginx", "ingressClass": "sigsci-nginx",
        "serviceName": "sigsci-ingress-nginx-controller", "loadBalancerAddress": harness.LOAD_BALANCER_IP}


def test_no_ingress_config_no_controller():
    run = harness.run_config({"sigsci:site": "demo", **harness.KEY_CONFIG,
                              "sigsci:apps": [{"name": "web", "image": "example/web:1.0", "port": 8080}]})
    assert run.of_type(RELEASE_TYPE) == [] and "ingress" not in run.outputs


def test_ingress_alone_needs_no_apps():
    config = ingress_config()
    del config["sigsci:apps"]
    run = harness.run_config(config)
    assert len(run.of_type(RELEASE_TYPE)) == 1
    assert {clean(r.inputs)["metadata"]["namespace"] for r in run.of_type("kubernetes:core/v1:Secret")} \
        == {"sigsci-ingress"}


def _value_paths(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_value_paths(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def _changed(before: dict, after: dict) -> set:
    a, b = _value_paths(before), _value_paths(after)
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


def test_a_controller_version_change_is_a_small_diff():
    before = release_of(harness.run_config(ingress_config()))
    after = release_of(harness.run_config(ingress_config(controller={"image": {"tag": "1.15.2-fastly1.4.1"}})))
    assert _changed(before["values"], after["values"]) == {"controller.image.tag"}
    assert {k for k in before if before[k] != after[k]} == {"values"}


def test_an_agent_version_change_is_a_small_diff():
    before = release_of(harness.run_config(ingress_config()))
    after = release_of(harness.run_config(ingress_config(agent={"version": "4.71.0"})))
    changed = _changed(before["values"], after["values"])
    assert changed == {"controller.extraInitContainers"}
    old, new = (r["values"]["controller"]["extraInitContainers"][0] for r in (before, after))
    assert {k for k in old if old[k] != new[k]} == {"image"}


def test_same_config_twice_same_inputs():
    config = INGRESS_CONFIGS["ingress-nginx-service"]
    first = [(r.type, r.name, clean(r.inputs)) for r in harness.run_config(config).resources]
    second = [(r.type, r.name, clean(r.inputs)) for r in harness.run_config(config).resources]
    assert sorted(first, key=repr) == sorted(second, key=repr)


def test_route_name_clash_is_an_error():
    config = ingress_config(routes=[{"app": "web", "host": "a.example.com"}, {"app": "web", "host": "b.example.com"}])
    with pytest.raises(ConfigError) as err:
        harness.run_config(config)
    assert err.value.key == "sigsci:ingress.routes[1].name"


def test_resources_wait_for_what_they_need():
    run = harness.run_config(INGRESS_CONFIGS["ingress-nginx-service"])
    # The Secret lands in the namespace the stack creates; the agents run before the controller needs them.
    assert "namespace-sigsci-ingress" in run.options["sigsci.sigsci-ingress"]["dependsOn"]
    release = run.options["ingress-release"]
    assert {"ingress-agent-deployment", "ingress-agent-service", "sigsci.sigsci-ingress"} <= set(release["dependsOn"])


def test_a_new_release_replaces_the_old_one_first(default_run):
    assert default_run.options["ingress-release"]["deleteBeforeReplace"] is True
    # Routes go in once the controller (and ingress-nginx's admission webhook) is there.
    assert "ingress-release" in default_run.options["ingress-route-default.web"]["dependsOn"]


def test_the_controller_and_its_agent_service_keep_a_replica_through_drains():
    from ingress_configs import ingress_config

    f5 = clean(harness.run_config(ingress_config(flavour="nginx-ingress")).of_type(harness.RELEASE_TYPE)[0].inputs)
    assert f5["values"]["controller"]["podDisruptionBudget"] == {"enabled": True, "maxUnavailable": 1}
    single = clean(harness.run_config(ingress_config(flavour="nginx-ingress", controller={"replicas": 1}))
                   .of_type(harness.RELEASE_TYPE)[0].inputs)
    assert "podDisruptionBudget" not in single["values"]["controller"]
    # ingress-nginx makes its own for more than one replica (minAvailable 1 in its values); nothing to set.
    nginx = clean(harness.run_config(ingress_config()).of_type(harness.RELEASE_TYPE)[0].inputs)
    assert "podDisruptionBudget" not in nginx["values"]["controller"]
    run = harness.run_config(ingress_config(agentLifetime="service"))
    budget = clean(run.named("ingress-agent-poddisruptionbudget").inputs)
    assert budget["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("name", ["0", "007", "123", "1.5", "1.", "1e3", "1.5e-3", "0x1f", "0o17", "0b101",
                                  "2024-01-02", "null", "y", "n", "yes", "no", "on", "off", "true", "false"])
def test_a_class_name_yaml_reads_as_no_text_is_refused(name):
    # Both charts write the IngressClass's name unquoted (`name: {{ ... }}`): Helm's YAML reads these as numbers,
    # dates, null or booleans, and the API server refuses the IngressClass after the release has begun.
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(ingressClass={"name": name}))
    assert err.value.key == "sigsci:ingress.ingressClass.name"


@pytest.mark.parametrize("name", ["1st-class", "e3", "1.5.6", "class-0", "yes-please", "2024-01-02-a"])
def test_a_class_name_yaml_reads_as_text_is_kept(name):
    run = harness.run_config(ingress_config(ingressClass={"name": name}))
    (release,) = harness.ingress_releases(run)
    assert harness.clean(release.inputs)["values"]["controller"]["ingressClassResource"]["name"] == name


# -- what the controllers themselves refuse, caught at preview ------------------------------------------------

@pytest.mark.parametrize("flavour, name", [("ingress-nginx", "ingress-nginx"),
                                           ("ingress-nginx-chainguard", "ingress-nginx"),
                                           ("nginx-ingress", "nginx")])
def test_a_class_a_stock_controller_serves_is_refused(flavour, name):
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(flavour=flavour, ingressClass={"name": name}), mocks=mocks)
    assert err.value.key == "sigsci:ingress.ingressClass.name"
    assert "without the WAF" in str(err.value)
    assert mocks.resources == []


def test_a_class_name_stock_for_the_other_family_is_kept():
    run = harness.run_config(ingress_config(flavour="nginx-ingress", ingressClass={"name": "ingress-nginx"}))
    assert release_of(run)["values"]["controller"]["ingressClass"]["name"] == "ingress-nginx"


def _route(**fields) -> list[dict]:
    return [{"host": "web.example.com", "app": "web", **fields}]


REFUSED_ROUTES = [
    # ingress-nginx: strict-validate-path-type for Prefix and Exact, deep inspection for any path.
    ("ingress-nginx", {"path": "/a~b"}, "path"),
    ("ingress-nginx", {"path": "/caf%C3%A9", "pathType": "Exact"}, "path"),
    ("ingress-nginx-chainguard", {"path": "/api/(v1|v2)"}, "path"),
    ("ingress-nginx", {"path": "/etc/nginx/x", "pathType": "ImplementationSpecific"}, "path"),
    ("ingress-nginx", {"path": "/var/run/secrets/k", "pathType": "ImplementationSpecific"}, "path"),
    ("ingress-nginx", {"path": "/content_by_lua", "pathType": "ImplementationSpecific"}, "path"),
    # F5: its illegal keywords, and a path that is no regular expression.
    ("nginx-ingress", {"path": "/variables"}, "path"),
    ("nginx-ingress", {"path": "/etc/x"}, "path"),
    ("nginx-ingress", {"path": "/a(", "pathType": "ImplementationSpecific"}, "path"),
    ("nginx-ingress", {"path": '/a"b'}, "path"),
    # Snippets stay off; F5's image is open-source NGINX; the class is ingressClassName's.
    ("ingress-nginx", {"annotations": {"nginx.ingress.kubernetes.io/configuration-snippet": "x"}},
     "annotations.nginx.ingress.kubernetes.io/configuration-snippet"),
    ("ingress-nginx", {"annotations": {"nginx.ingress.kubernetes.io/auth-snippet": "x"}},
     "annotations.nginx.ingress.kubernetes.io/auth-snippet"),
    ("nginx-ingress", {"annotations": {"nginx.org/location-snippets": "x"}}, "annotations.nginx.org/location-snippets"),
    ("nginx-ingress", {"annotations": {"nginx.com/health-checks": "true"}}, "annotations.nginx.com/health-checks"),
    ("nginx-ingress", {"annotations": {"appprotect.f5.com/app-protect-enable": "True"}},
     "annotations.appprotect.f5.com/app-protect-enable"),
    ("ingress-nginx", {"annotations": {"kubernetes.io/ingress.class": "sigsci-nginx"}},
     "annotations.kubernetes.io/ingress.class"),
    ("nginx-ingress", {"annotations": {"kubernetes.io/ingress.class": "other"}},
     "annotations.kubernetes.io/ingress.class"),
]


@pytest.mark.parametrize("flavour, fields, key", REFUSED_ROUTES)
def test_a_route_the_controller_would_refuse_is_refused_at_preview(flavour, fields, key):
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(flavour=flavour, routes=_route(**fields)), mocks=mocks)
    assert err.value.key == f"sigsci:ingress.routes[0].{key}"
    assert "\n" not in str(err.value)
    assert mocks.resources == []


@pytest.mark.parametrize("flavour, fields", [
    ("ingress-nginx", {"path": "/a~b", "pathType": "ImplementationSpecific"}),
    ("ingress-nginx", {"path": "/static/v1.2/app_x-y"}),
    ("nginx-ingress", {"path": "/api/v[0-9]+", "pathType": "ImplementationSpecific"}),
    ("nginx-ingress", {"annotations": {"nginx.org/client-max-body-size": "8m"}}),
])
def test_a_route_the_controller_takes_is_kept(flavour, fields):
    run = harness.run_config(ingress_config(flavour=flavour, routes=_route(**fields)))
    (ingress,) = [clean(r.inputs) for r in run.of_type(INGRESS_TYPE)]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == fields.get("path", "/")


def test_the_advice_for_a_path_kubernetes_refuses_fits_the_entry():
    from sigsci_waf.config.gateway import GatewayRoute
    from sigsci_waf.config.ingress import Route
    from sigsci_waf.config.model import parse

    with pytest.raises(ConfigError) as ingress:
        parse(Route, {"path": "/a//b", "app": "web"}, "sigsci:ingress.routes[0]")
    with pytest.raises(ConfigError) as gateway:
        parse(GatewayRoute, {"path": "/a//b", "app": "web"}, "sigsci:gateway.routes[0]")
    assert "pathType ImplementationSpecific" in str(ingress.value)
    # Gateway API has no ImplementationSpecific: its routes are told only to normalise the path.
    assert "ImplementationSpecific" not in str(gateway.value) and "normalised path" in str(gateway.value)


def test_a_chart_repository_with_credentials_is_refused():
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(chart={"repository": "https://user:s3cr3t@charts.example.com/x"}),
                           mocks=mocks)
    assert err.value.key == "sigsci:ingress.chart.repository"
    assert "s3cr3t" not in str(err.value) and "credentials" in str(err.value)
    assert mocks.resources == []


@pytest.mark.parametrize("config, key", [
    (ingress_config(namespace="0"), "sigsci:ingress.namespace"),
    (ingress_config(namespace="yes"), "sigsci:ingress.namespace"),
    (ingress_config(flavour="nginx-ingress", releaseName="on"), "sigsci:ingress.releaseName"),
    (ingress_config(releaseName="null"), "sigsci:ingress.releaseName"),
])
def test_a_release_namespace_or_name_yaml_reads_as_no_text_is_refused(config, key):
    # The charts write `namespace: {{ .Release.Namespace }}` and `app.kubernetes.io/instance: {{ .Release.Name }}`
    # unquoted: as a number or boolean, every object of the release is refused.
    with pytest.raises(ConfigError) as err:
        harness.run_config(config)
    assert err.value.key == key


def test_envoy_gateways_namespace_yaml_reads_as_no_text_is_refused():
    config = {**ingress_config(), "sigsci:gateway": {"envoyGateway": {"namespace": "007"}}}
    del config["sigsci:ingress"]
    with pytest.raises(ConfigError) as err:
        harness.run_config(config)
    assert err.value.key == "sigsci:gateway.envoyGateway.namespace"


@pytest.mark.parametrize("flavour", ["ingress-nginx", "nginx-ingress"])
def test_a_sidecars_probe_port_on_a_controller_port_says_the_probe_is_on_by_default(flavour):
    """The probe is on unless turned off: the message names the controller's ports and both ways out."""
    from sigsci_waf.ingress.flavours import FLAVOURS

    ports = FLAVOURS[flavour].controller_ports
    taken = max(p for p in ports if p >= 1024)
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(flavour=flavour, agent={"startupProbe": {"port": taken}}))
    assert err.value.key == "sigsci:ingress.agent.startupProbe.port"
    assert err.value.problem.startswith(f"{taken} is already used by the controller in the same pod "
                                        f"({ports[taken]}), as are ")
    assert err.value.problem.endswith("the agent's startup probe listens there (on by default); pick another "
                                      "startupProbe.port or set startupProbe.enabled: false"), str(err.value)
    harness.run_config(ingress_config(flavour=flavour, agent={"startupProbe": {"port": taken, "enabled": False}}))


@pytest.mark.parametrize("flavour", ["ingress-nginx", "ingress-nginx-chainguard", "nginx-ingress"])
def test_with_agents_as_a_service_the_controller_waits_for_their_rollout(flavour):
    """nginx fails open while no agent answers: the release (so nginx's first start) waits for the agents'
    Deployment, which Pulumi counts done once its rollout is ready (no skipAwait), and for their Service; each
    agent is ready only once its startup probe says its rules are loaded."""
    run = harness.run_config(ingress_config(flavour=flavour, agentLifetime="service",
                                            routes=[{"host": "web.example.com", "app": "web"}]))
    assert {"ingress-agent-deployment", "ingress-agent-service"} <= set(run.options["ingress-release"]["dependsOn"])
    deployment = clean(run.named("ingress-agent-deployment").inputs)
    assert run.named("ingress-agent-deployment").type == "kubernetes:apps/v1:Deployment"
    assert not any(k.startswith("pulumi.com/skip") for k in deployment["metadata"].get("annotations", {}))
    [agent] = deployment["spec"]["template"]["spec"]["containers"]
    assert agent["startupProbe"]["httpGet"]["path"] == "/startup" and "readinessProbe" in agent
