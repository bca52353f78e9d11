"""No chart override can switch the WAF off, and renames are followed as the chart renders them.

The oracle for "which values matter" is the charts' own default values (tests/reference.py): every key
path whose name speaks of the config, template, snippets, image, user, stream or passthrough, renames or
flags must be refused, owned by us, derived, or reviewed here with the reason it cannot stop inspection.
A new chart version with a new such key fails here until someone decides.
"""

from __future__ import annotations

import re

import pytest
import yaml

import harness
import reference
from harness import RELEASE_TYPE, clean, env_of, unwrap_secrets
from ingress_configs import ingress_config
from sigsci_waf.config.errors import ConfigError
from sigsci_waf.ingress.flavours import FLAVOURS

RISKY = re.compile(r"config|template|snippet|image|digest|chroot|passthrough|tcp|udp|stream|global|plus|protect|"
                   r"debug|securitycontext|runas|override|selectorlabels|extraargs|namespace|module|agent|name$",
                   re.IGNORECASE)
# Derived from, not refused: the chart's naming inputs (see test_renames_are_followed).
DERIVED = {"nameOverride", "fullnameOverride", "controller.name", "controller.selectorLabels"}
# Reviewed: these cannot stop inspection of what reaches the controller, for the reason given.
REVIEWED = {
    "ingress-nginx": {
        "controller.admissionWebhooks": "the validating webhook and its Jobs, not the controller pods",
        "defaultBackend": "answers requests no Ingress matches, behind nginx (inspected like any other)",
        "serviceAccount": "RBAC identity only", "imagePullSecrets": "pull credentials only",
        "controller.priorityClassName": "scheduling", "controller.runtimeClassName": "the container runtime",
        "controller.hostname": "pod host name", "controller.dnsConfig": "pod DNS",
        "controller.containerName": "names the controller container only",
        "controller.configAnnotations": "annotations on the ConfigMap",
        "controller.ingressClassByName": "class matching by name, still our class only",
        "controller.publishService": "status addresses",
        "controller.autoscaling": "replica count", "controller.autoscalingTemplate": "replica count",
        "controller.service.nodePorts": "node ports of the http/https ports",
        "controller.service.internal": "a second Service to the same nginx ports",
        "controller.shareProcessNamespace": "process visibility in the pod",
        "controller.extraModules": "adds other modules; ours is still loaded by the main snippet",
        "controller.metrics": "Prometheus metrics",
        "controller.podSecurityContext": "pod-wide settings; fsGroup, the one the socket needs, is ours",
        "controller.config": "an open map: our snippet keys collide, other values are checked for module text",
        "controller.extraArgs": "an open map: the flags that change config, class or stream are refused one by one",
    },
    "nginx-ingress": {
        "controller.mgmt": "NGINX Plus licensing", "controller.enableConfigSafety": "validation of config",
        "controller.shareProcessNamespace": "process visibility in the pod",
        "controller.config.annotations": "annotations on the ConfigMap",
        "controller.config.entries": "an open map: our snippet keys collide, templates are refused, other values "
                                     "are checked for module text",
        "controller.autoscaling": "replica count",
        "controller.podSecurityContext": "pod-wide settings; fsGroup, the one the socket needs, is ours",
        "controller.initContainerSecurityContext": "the chart's own config-copy init container",
        "controller.ingressClass": "ours (set from sigsci:ingress.ingressClass)",
        "controller.watchSecretNamespace": "where TLS secrets are read",
        "controller.service.httpPort": "port names", "controller.service.httpsPort": "port names",
        "controller.serviceAccount": "RBAC identity and pull secrets",
        "controller.reportIngressStatus": "status addresses and leader election",
    },
}


def _paths(value, path=()):
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _paths(child, (*path, str(key)))
    else:
        yield path


def _defaults(chart: str) -> dict:
    """The chart's default values at the version the package installs."""
    version = next(f.default_chart_version for f in FLAVOURS.values() if f.chart == chart)
    return yaml.safe_load(reference.values_file(chart, version).read_text())


def _resolved(flavour: str):
    from sigsci_waf.config.agent import AgentSettings
    from sigsci_waf.resolve.ingress import resolve_ingress

    return resolve_ingress({"flavour": flavour}, AgentSettings(), "sigsci:ingress", {}, rotation=True)


def _covered(ing, ours, path: tuple[str, ...]) -> bool:
    from sigsci_waf.resolve.extra_values import _leaves, guard_reason

    dotted = ".".join(path)
    if guard_reason(ing, path) or dotted in DERIVED:
        return True
    if any(path[:len(m)] == m or m[:len(path)] == path for m in _leaves(ours)):
        return True
    reviewed = REVIEWED[ing.flavour.chart]
    return any(dotted == p or dotted.startswith(p + ".") for p in reviewed)


@pytest.mark.reference
@pytest.mark.parametrize("flavour", ["ingress-nginx", "nginx-ingress"])
def test_every_value_of_the_class_is_refused_owned_derived_or_reviewed(flavour):
    ing = _resolved(flavour)
    ours = ing.objects.values
    risky = [p for p in _paths(_defaults(ing.flavour.chart)) if any(RISKY.search(part) for part in p)]
    assert len(risky) > 40  # the oracle finds the class
    missed = [".".join(p) for p in risky if not _covered(ing, ours, p)]
    assert missed == []


@pytest.mark.reference
@pytest.mark.parametrize("flavour", ["ingress-nginx", "nginx-ingress"])
def test_reviewed_and_guarded_values_exist_in_the_chart(flavour):
    """No typo hides a guard: each guarded or reviewed path, or its open parent map, is in the chart."""
    flavour_spec = FLAVOURS[flavour]
    defaults = _defaults(flavour_spec.chart)
    # Read by the chart's templates although values.yaml does not list them (see the chart research).
    template_only = {"serviceNameOverride", "controller.service.name"}
    for dotted in [*flavour_spec.guarded_values, *REVIEWED[flavour_spec.chart]]:
        node, parts = defaults, dotted.split(".")
        for index, part in enumerate(parts):
            if isinstance(node, dict) and part in node:
                node = node[part]
                continue
            assert dotted in template_only or node == {}, f"{dotted}: {'.'.join(parts[:index + 1])} not in chart"
            break


def _extra(path: str, value) -> dict:
    result: dict = value
    for part in reversed(path.split(".")):
        result = {part: result}
    return result


GUARDED = [(name, path) for name, f in FLAVOURS.items() for path in f.guarded_values]


@pytest.mark.parametrize("flavour, path", GUARDED)
def test_each_guarded_value_is_refused_naming_the_key(flavour, path):
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(flavour=flavour, extraValues=_extra(path, "x")), mocks=mocks)
    assert err.value.key.startswith(f"sigsci:ingress.extraValues.{path.split('.')[0]}")
    assert mocks.resources == []


# The probes and their variants: each would make nginx run without the module, or around it.
PROBES = [
    ("ingress-nginx", {"controller": {"configMapNamespace": "other"}}),
    ("ingress-nginx", {"controller": {"extraArgs": {"configmap": "other/cm"}}}),
    ("ingress-nginx", {"controller": {"extraArgs": {"--configmap": "other/cm"}}}),
    ("ingress-nginx", {"controller": {"extraArgs": {"configmap=other/cm": ""}}}),
    ("ingress-nginx", {"controller": {"extraArgs": {"enable-ssl-passthrough": ""}}}),
    ("ingress-nginx", {"controller": {"customTemplate": {"configMapName": "mine", "configMapKey": "nginx.tmpl"}}}),
    ("ingress-nginx", {"controller": {"image": {"chroot": True}}}),
    ("ingress-nginx", {"controller": {"image": {"registry": "mirror.example"}}}),
    ("ingress-nginx", {"tcp": {"9000": "default/db:5432"}}),
    ("ingress-nginx", {"controller": {"allowSnippetAnnotations": True}}),
    ("ingress-nginx", {"controller": {"config": {"annotations-risk-level": "Critical"}}}),
    ("ingress-nginx", {"controller": {"config": {"server-snippet": "sigsci_enabled off;"}}}),
    ("ingress-nginx", {"controller": {"config": {"location-snippet": "{{ .Values.x }}"}}}),
    ("ingress-nginx", {"controller": {"containerSecurityContext": {"runAsUser": 1000}}}),
    ("ingress-nginx", {"controller": {"podSecurityContext": {"fsGroup": 1000}}}),
    ("ingress-nginx", {"namespaceOverride": "elsewhere"}),
    ("ingress-nginx-chainguard", {"controller": {"extraArgs": {"tcp-services-configmap": "x/y"}}}),
    ("nginx-ingress", {"controller": {"customConfigMap": "mine"}}),
    ("nginx-ingress", {"controller": {"config": {"entries": {"main-template": "events {}"}}}}),
    ("nginx-ingress", {"controller": {"enableTLSPassthrough": True}}),
    ("nginx-ingress", {"controller": {"globalConfiguration": {"create": True}}}),
    ("nginx-ingress", {"controller": {"enableSnippets": True}}),
    ("nginx-ingress", {"controller": {"nginxplus": True}}),
    ("nginx-ingress", {"controller": {"nginxDebug": True}}),
    ("nginx-ingress", {"controller": {"securityContext": {"runAsUser": 2000}}}),
    ("nginx-ingress", {"controller": {"config": {"entries": {"location-snippets": "sigsci_enabled off;"}}}}),
    ("nginx-ingress", {"nginxAgent": {"enable": True}}),
    # Stream listeners and the ports to them: that traffic never passes the HTTP module.
    ("ingress-nginx", {"controller": {"config": {"stream-snippet": "server { listen 9000; proxy_pass db:5432; }"}}}),
    ("nginx-ingress", {"controller": {"config": {"entries": {"stream-snippets": "server { listen 9000; }"}}}}),
    ("nginx-ingress", {"controller": {"customPorts": [{"name": "db", "containerPort": 9000}]}}),
    ("nginx-ingress", {"controller": {"service": {"customPorts": [{"name": "db", "port": 9000}]}}}),
    # Watched namespaces and the annotations' prefix: routes unserved, or every route annotation refused.
    ("ingress-nginx", {"controller": {"scope": {"enabled": True}}}),
    ("ingress-nginx", {"controller": {"extraArgs": {"watch-namespace": "web"}}}),
    ("ingress-nginx", {"controller": {"extraArgs": {"annotations-prefix": "waf.example.com"}}}),
    ("nginx-ingress", {"controller": {"watchNamespace": "web"}}),
]


@pytest.mark.parametrize("flavour, extra", PROBES)
def test_overrides_that_would_stop_inspection_are_refused(flavour, extra):
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(flavour=flavour, extraValues=extra), mocks=mocks)
    assert err.value.key.startswith("sigsci:ingress.extraValues.")
    assert mocks.resources == []


@pytest.mark.parametrize("extra, key", [
    ({"controller": {"extraArgs": ["--configmap=other/cm"]}}, "controller.extraArgs"),
    ({"controller": None}, "controller"),
    ({"controller": {"config": "use-gzip: true"}}, "controller.config"),
])
def test_a_value_where_the_chart_reads_a_map_must_be_one(extra, key):
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(extraValues=extra), mocks=mocks)
    assert err.value.key == f"sigsci:ingress.extraValues.{key}"
    assert "must be a map" in str(err.value) and "\n" not in str(err.value)
    assert mocks.resources == []


# With the agents as their own Service, the pod lists are the user's: a volume over what loads the module.
MOUNTS = [
    ("ingress-nginx", "extraVolumes", "extraVolumeMounts", "/etc/nginx/template"),
    ("ingress-nginx", "extraVolumes", "extraVolumeMounts", "/etc/nginx"),
    ("ingress-nginx", "extraVolumes", "extraVolumeMounts", "/etc"),
    ("ingress-nginx", "extraVolumes", "extraVolumeMounts", "/usr/lib/nginx/modules/"),
    ("ingress-nginx-chainguard", "extraVolumes", "extraVolumeMounts", "/"),
    ("nginx-ingress", "volumes", "volumeMounts", "/nginx.tmpl"),
    ("nginx-ingress", "volumes", "volumeMounts", "/nginx-plus.ingress.tmpl"),
    ("nginx-ingress", "volumes", "volumeMounts", "/etc/nginx/nginx.conf"),
    ("nginx-ingress", "volumes", "volumeMounts", "/usr/lib"),
]


@pytest.mark.parametrize("flavour, volumes, mounts, path", MOUNTS)
def test_a_volume_over_nginx_config_template_or_modules_is_refused(flavour, volumes, mounts, path):
    extra = {"controller": {volumes: [{"name": "tpl", "configMap": {"name": "tpl"}}],
                            mounts: [{"name": "tpl", "mountPath": path}]}}
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(flavour=flavour, agentLifetime="service", extraValues=extra), mocks=mocks)
    assert err.value.key == f"sigsci:ingress.extraValues.controller.{mounts}[0].mountPath"
    assert mocks.resources == []


@pytest.mark.parametrize("flavour, volumes, mounts", [("ingress-nginx", "extraVolumes", "extraVolumeMounts"),
                                                      ("nginx-ingress", "volumes", "volumeMounts")])
def test_a_volume_elsewhere_is_mounted(flavour, volumes, mounts):
    extra = {"controller": {volumes: [{"name": "geo", "configMap": {"name": "geo"}}],
                            mounts: [{"name": "geo", "mountPath": "/etc/nginx-geo"}]}}
    run = harness.run_config(ingress_config(flavour=flavour, agentLifetime="service", extraValues=extra))
    assert _release(run)["values"]["controller"][mounts] == [{"name": "geo", "mountPath": "/etc/nginx-geo"}]


@pytest.mark.parametrize("flavour", list(FLAVOURS))
def test_host_network_is_refused_with_the_agents_as_a_service(flavour):
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(flavour=flavour, agentLifetime="service",
                                          extraValues={"controller": {"hostNetwork": True}}), mocks=mocks)
    assert err.value.key == "sigsci:ingress.extraValues.controller.hostNetwork"
    assert "NetworkPolicy" in str(err.value) and "agentLifetime service" in str(err.value)
    assert mocks.resources == []
    # A sidecar reaches its agent over the pod's own socket: the node's network changes nothing for it.
    run = harness.run_config(ingress_config(flavour=flavour, extraValues={"controller": {"hostNetwork": True}}))
    assert _release(run)["values"]["controller"]["hostNetwork"] is True


# Names the controller pod already has: the chart's controller container, our agent, the chart's volumes.
POD_CLASHES = [
    ("ingress-nginx", "service", {"extraContainers": [{"name": "controller", "image": "x"}]},
     "extraContainers[0].name"),
    ("ingress-nginx", "service", {"extraInitContainers": [{"name": "sigsci-agent", "image": "x"}]},
     "extraInitContainers[0].name"),
    ("ingress-nginx", "nativeSidecar", {"extraContainers": [{"name": "sigsci-agent", "image": "x"}]},
     "extraContainers[0].name"),
    ("ingress-nginx", "classicSidecar", {"extraInitContainers": [{"name": "sigsci-agent", "image": "x"}]},
     "extraInitContainers[0].name"),
    ("ingress-nginx", "service", {"containerName": "nginx", "extraContainers": [{"name": "nginx", "image": "x"}]},
     "extraContainers[0].name"),
    ("nginx-ingress", "service", {"extraContainers": [{"name": "nginx-ingress", "image": "x"}]},
     "extraContainers[0].name"),
    ("nginx-ingress", "nativeSidecar", {"extraContainers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]},
     "extraContainers[1].name"),
    ("ingress-nginx", "service", {"extraVolumes": [{"name": "webhook-cert", "emptyDir": {}}]}, "extraVolumes[0].name"),
    ("ingress-nginx", "service", {"extraVolumeMounts": [{"name": "nope", "mountPath": "/data"}]},
     "extraVolumeMounts[0].name"),
    ("nginx-ingress", "service", {"volumes": [{"name": "a", "emptyDir": {}}],
                                  "volumeMounts": [{"name": "b", "mountPath": "/data"}]}, "volumeMounts[0].name"),
]


@pytest.mark.parametrize("flavour, lifetime, controller, key", POD_CLASHES)
def test_pod_names_that_clash_or_dangle_are_refused(flavour, lifetime, controller, key):
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(flavour=flavour, agentLifetime=lifetime,
                                          extraValues={"controller": controller}), mocks=mocks)
    assert err.value.key == f"sigsci:ingress.extraValues.controller.{key}"
    assert mocks.resources == []


def test_a_mount_of_the_charts_own_volume_is_allowed():
    extra = {"controller": {"extraVolumeMounts": [{"name": "webhook-cert", "mountPath": "/certs"}]}}
    run = harness.run_config(ingress_config(agentLifetime="service", extraValues=extra))
    assert _release(run)["values"]["controller"]["extraVolumeMounts"][0]["name"] == "webhook-cert"


def _release(run) -> dict:
    return unwrap_secrets(clean(run.of_type(RELEASE_TYPE)[0].inputs))


@pytest.mark.parametrize("flavour, extra", [
    ("ingress-nginx", {"controller": {"extraArgs": {"default-ssl-certificate": "edge/tls"},
                                      "config": {"server-snippet": "add_header X-Frame-Options DENY;"},
                                      "podLabels": {"team": "edge"}, "kind": "DaemonSet"}}),
    ("nginx-ingress", {"controller": {"config": {"name": "edge-config", "entries": {"worker-processes": "2"}},
                                      "pod": {"extraLabels": {"team": "edge"}}}}),
])
def test_harmless_overrides_keep_the_module_where_the_controller_reads(flavour, extra):
    run = harness.run_config(ingress_config(flavour=flavour, extraValues=extra))
    values = _release(run)["values"]
    spec = FLAVOURS[flavour]
    config = values
    for part in spec.config_path:
        config = config[part]
    assert config[spec.main_snippet].startswith("load_module /usr/lib/nginx/modules/ngx_http_sigsci_module.so")
    assert config[spec.http_snippet].startswith("sigsci_agent_host unix:")


# -- renames --------------------------------------------------------------------------------------------------

# Worked out by hand from the charts' _helpers.tpl (trunc 63 | trimSuffix "-"), not by our code.
RENAMES = [
    ("ingress-nginx", "edge", {}, "edge-ingress-nginx-controller",
     {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/instance": "edge",
      "app.kubernetes.io/component": "controller"}),
    ("ingress-nginx", "edge", {"nameOverride": "gw"}, "edge-gw-controller",
     {"app.kubernetes.io/name": "gw", "app.kubernetes.io/instance": "edge",
      "app.kubernetes.io/component": "controller"}),
    ("ingress-nginx", "edge-gw", {"nameOverride": "gw"}, "edge-gw-controller",
     {"app.kubernetes.io/name": "gw", "app.kubernetes.io/instance": "edge-gw",
      "app.kubernetes.io/component": "controller"}),
    ("ingress-nginx", "edge", {"fullnameOverride": "front", "controller": {"name": "proxy"}}, "front-proxy",
     {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/instance": "edge",
      "app.kubernetes.io/component": "controller"}),
    # fullname: 63 characters ending in '-', trimmed once to 62 f; + "-controller" cut at 63 ends in '-' again.
    ("ingress-nginx", "edge", {"fullnameOverride": "f" * 62 + "-", "controller": {"admissionWebhooks": {
        "enabled": False}}}, "f" * 62, None),
    ("nginx-ingress", "edge", {}, "edge-nginx-ingress-controller",
     {"app.kubernetes.io/name": "nginx-ingress", "app.kubernetes.io/instance": "edge"}),
    ("nginx-ingress", "edge", {"serviceNameOverride": "public"}, "public",
     {"app.kubernetes.io/name": "nginx-ingress", "app.kubernetes.io/instance": "edge"}),
    ("nginx-ingress", "edge", {"controller": {"name": "c", "selectorLabels": {"tier": "edge"}}}, "edge-nginx-ingress-c",
     {"tier": "edge"}),
]


@pytest.mark.parametrize("flavour, release, extra, service, labels", RENAMES)
def test_renames_are_followed(flavour, release, extra, service, labels):
    config = ingress_config(flavour=flavour, releaseName=release, agentLifetime="service", extraValues=extra,
                            service={"type": "LoadBalancer"})
    run = harness.run_config(config)
    assert run.outputs["ingress"]["serviceName"] == service
    lookup = next(r for r in run.resources if r.read and r.type == "kubernetes:core/v1:Service")
    assert lookup.name == "ingress-controller-service"
    if labels is not None:
        policy = clean(run.named("ingress-agent-networkpolicy").inputs)
        assert policy["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": labels}}]


@pytest.mark.parametrize("flavour, extra", [
    ("ingress-nginx", {"nameOverride": "Bad_Name"}),
    ("ingress-nginx", {"nameOverride": 7}),
    ("ingress-nginx", {"controller": {"name": "UPPER"}}),
    ("nginx-ingress", {"serviceNameOverride": "9starts-with-digit"}),
    ("nginx-ingress", {"controller": {"selectorLabels": {}}}),
    ("nginx-ingress", {"controller": {"selectorLabels": {"bad key!": "x"}}}),
    # The chart does not shorten `<controller fullname>-admission`: 62 + "-admission" is no Service name.
    ("ingress-nginx", {"fullnameOverride": "f" * 62}),
    ("ingress-nginx", {"controller": {"metrics": {"enabled": True}, "name": "c" * 40}}),
])
def test_renames_the_chart_would_render_invalid_are_refused(flavour, extra):
    first = next(iter(extra))
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(flavour=flavour, extraValues=extra), mocks=mocks)
    assert err.value.key.startswith(f"sigsci:ingress.extraValues.{first}")
    assert mocks.resources == []


@pytest.mark.parametrize("extra, key", [
    ({"nameOverride": "Bad_name"}, "nameOverride"),
    ({"fullnameOverride": "Bad_name"}, "fullnameOverride"),
    ({"nameOverride": "ok", "controller": {"name": "Bad_name"}}, "controller.name"),
])
def test_an_invalid_rename_is_reported_where_it_is_set(extra, key):
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(extraValues=extra))
    assert err.value.key == f"sigsci:ingress.extraValues.{key}"


# -- the socket ------------------------------------------------------------------------------------------------

def _nginx_user(chart: str) -> tuple[int, int]:
    """nginx's user and group as the chart's own defaults set them (F5 sets no group: image user 101's)."""
    defaults = _defaults(chart)["controller"]
    if chart == "ingress-nginx":
        return defaults["image"]["runAsUser"], defaults["image"]["runAsGroup"]
    # values.yaml leaves controller.securityContext empty; the template's default is runAsUser 101 (#nginx),
    # no runAsGroup, so the group is that of user 101 in the image: 101.
    assert defaults["securityContext"] == {}
    return 101, 101


@pytest.mark.reference
@pytest.mark.parametrize("flavour", list(FLAVOURS))
@pytest.mark.parametrize("lifetime", ["nativeSidecar", "classicSidecar"])
def test_the_agent_creates_its_socket_as_nginx_and_the_volume_is_nginx_groups(flavour, lifetime):
    run = harness.run_config(ingress_config(flavour=flavour, agentLifetime=lifetime))
    controller = _release(run)["values"]["controller"]
    spec = FLAVOURS[flavour]
    agent = (controller.get(spec.init_containers) or controller[spec.containers])[0]
    uid, gid = _nginx_user(spec.chart)
    assert (agent["securityContext"]["runAsUser"], agent["securityContext"]["runAsGroup"]) == (uid, gid)
    assert controller["podSecurityContext"] == {"fsGroup": gid}
    assert env_of(agent)["SIGSCI_RPC_ADDRESS"].startswith("/sigsci/tmp/")


def test_another_user_for_a_sidecar_agent_is_refused():
    with pytest.raises(ConfigError) as err:
        harness.run_config(ingress_config(agent={"runAsUser": 10001}))
    assert err.value.key == "sigsci:ingress.agent.runAsUser"
    # As its own Service the agent shares no socket and keeps its own user.
    run = harness.run_config(ingress_config(agent={"runAsUser": 10001}, agentLifetime="service"))
    agent = clean(run.named("ingress-agent-deployment").inputs)["spec"]["template"]["spec"]["containers"][0]
    assert agent["securityContext"]["runAsUser"] == 10001
