"""The policy pack runs in a virtualenv of its own, without sigsci_waf, so it keeps its own copy of what it
knows about the agent and the charts (policy/sigsci_policies/constants.py). Each value must agree with the
one the package publishes, or the pack would judge stacks by rules the components no longer follow."""

import sys
from pathlib import PurePosixPath

import pytest
from pydantic import TypeAdapter, ValidationError

import harness
from sigsci_waf.agent.container import AGENT_CONTAINER, credential_env, rpc_address
from sigsci_waf.config.agent import AgentSettings
from sigsci_waf.config.gateway import (MIN_MESSAGE_TIMEOUT_MS, TIMEOUT_MS_PER_MIB, Duration, GatewaySpec,
                                       duration_ms)
from sigsci_waf.config.kube import Digest, quantity_value
from sigsci_waf.gateway.build import AGENTS_NAME
from sigsci_waf.ingress.flavours import FLAVOURS, MODULE_PATH

import crd_schema

sys.path.insert(0, str(harness.ROOT / "policy"))
from sigsci_policies import constants  # noqa: E402
from sigsci_policies.common import _duration_ms, _proto_duration_ms, _quantity  # noqa: E402
from sigsci_policies.gateway import needed_timeout_ms  # noqa: E402
from sigsci_policies.valid_image_digests import _bad_digest  # noqa: E402

CHARTS = sorted({flavour.chart: flavour for flavour in FLAVOURS.values()}.items())


def test_the_agent_container_name():
    assert constants.AGENT == AGENT_CONTAINER


def test_the_credential_env_names():
    assert constants.CREDENTIAL_ENV == tuple(entry["name"] for entry in credential_env("x"))


def test_the_default_socket():
    assert constants.DEFAULT_RPC_ADDRESS == rpc_address(AgentSettings())


def test_the_module_file():
    assert constants.MODULE_PATH == MODULE_PATH
    assert constants.MODULE_FILE == PurePosixPath(MODULE_PATH).name


def test_the_pack_knows_every_chart_and_no_other():
    assert set(constants._LAYOUTS) == {chart for chart, _ in CHARTS}


def test_the_owner_target_port_annotation():
    from sigsci_waf.apps.restore import OWNER_TARGET_PORT_ANNOTATION

    assert constants.OWNER_TARGET_PORT_ANNOTATION == OWNER_TARGET_PORT_ANNOTATION


@pytest.mark.parametrize("chart,flavour", CHARTS, ids=[chart for chart, _ in CHARTS])
def test_the_chart_layouts(chart, flavour):
    layout = constants._LAYOUTS[chart]
    assert (layout["config"], layout["main"], layout["http"], layout["mounts"]) == \
        (flavour.config_path, flavour.main_snippet, flavour.http_snippet, flavour.volume_mounts)
    override = flavour.selector_labels_override
    assert layout["selector_labels"] == (tuple(override.split(".")) if override else None)
    assert layout["component_label"] is flavour.component_label


@pytest.mark.parametrize("ingress", [
    {"agentLifetime": "service"},
    {"agentLifetime": "service", "flavour": "nginx-ingress"},
    {"agentLifetime": "service", "flavour": "ingress-nginx-chainguard", "releaseName": "edge",
     "extraValues": {"nameOverride": "waf-"}},
    {"agentLifetime": "service", "flavour": "nginx-ingress", "releaseName": "edge",
     "extraValues": {"nameOverride": "a" * 62 + "-" + "b" * 5}},
    {"agentLifetime": "service", "flavour": "nginx-ingress",
     "extraValues": {"controller": {"selectorLabels": {"app": "edge", "tier": "front"}}}},
], ids=["ingress-nginx", "nginx-ingress", "name-override", "long-name-override", "selector-labels"])
def test_the_pack_labels_the_controller_pods_as_the_package_does(ingress):
    """The labels the pack expects on the controller pods (from the release alone) are those the package's agents'
    NetworkPolicy admits, which it derives as the charts' selectorLabels helpers do."""
    from ingress_configs import ingress_config
    from test_policy_pack import _resources
    from sigsci_policies.controller_reaches_agents import _controller_pod_labels
    from sigsci_policies.stack import _Resource

    resources = _resources(harness.run_config(ingress_config(**ingress)))
    release = next(props for _, name, props in resources if name == "ingress-release")
    policy = next(props for _, name, props in resources if name == "ingress-agent-networkpolicy")
    admitted = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    pack = _controller_pod_labels(_Resource(constants.RELEASE, "ingress-release", None, release,
                                            release["namespace"], "", False))
    assert pack == admitted


def _package_accepts(digest: str) -> bool:
    try:
        TypeAdapter(Digest).validate_python(digest)
    except ValidationError:
        return False
    return True


def _pack_accepts(digest: str) -> bool:
    return _bad_digest(f"signalsciences/sigsci-agent@{digest}") is None


SHA256 = ["sha256:" + "0123456789abcdef" * 4, "sha256:" + "a" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 65,
          "sha256:" + "A" * 64, "sha256:" + "g" * 64, "sha256:", "SHA256:" + "a" * 64, "sha256" + "a" * 64,
          " sha256:" + "a" * 64, "sha256:" + "a" * 64 + " ", "md5:" + "a" * 32, "",
          "sha256:" + "a" * 64 + "\n"]


@pytest.mark.parametrize("digest", SHA256)
def test_the_pack_and_the_package_agree_on_digests(digest):
    assert _pack_accepts(digest) == _package_accepts(digest)


@pytest.mark.parametrize("digest,well_formed", [("sha384:" + "b" * 96, True), ("sha512:" + "c" * 128, True),
                                                ("sha384:" + "b" * 64, False), ("sha512:" + "c" * 96, False)])
def test_the_pack_also_accepts_the_longer_digests_a_runtime_pulls(digest, well_formed):
    """A stack sets sha256 digests only; the pack judges what a container runtime pulls, sha384 and sha512 too."""
    assert not _package_accepts(digest)
    assert _pack_accepts(digest) is well_formed


# -- the gateway: the agents' name and the timeout rule ----------------------------------------------------------

def test_the_gateway_agents_name():
    assert constants.AGENTS_NAME == AGENTS_NAME


def test_the_timeout_rule_numbers():
    assert (constants.TIMEOUT_MS_PER_MIB, constants.MIN_MESSAGE_TIMEOUT_MS) == (TIMEOUT_MS_PER_MIB,
                                                                                 MIN_MESSAGE_TIMEOUT_MS)


DURATIONS = ["2s", "500ms", "1m30s", "1h", "1h2m3s4ms", "99999ms", "0s", "1s0ms", "2 seconds", "1.5s", "2", "s",
             "1d", "-1s", "1h1h1h1h1h", "123456s", ""]


@pytest.mark.parametrize("text", DURATIONS)
def test_the_pack_and_the_package_read_durations_alike(text):
    try:
        TypeAdapter(Duration).validate_python(text)
    except ValidationError:
        assert _duration_ms(text) is None
    else:
        assert _duration_ms(text) == duration_ms(text)


QUANTITIES = ["1Mi", "512Ki", "65536", "1k", "8M", "1Gi", "64Mi", "1Ti", "3Pi", "2E", "1e3", "1E3", "1.5Mi", "0.5",
              "100m", "3Ei"]


@pytest.mark.parametrize("text", QUANTITIES)
def test_the_pack_and_the_package_value_quantities_alike(text):
    assert _quantity(text) == quantity_value(text)


def test_the_pack_values_exbibytes():
    assert _quantity("3Ei") == 3 * 2 ** 60


@pytest.mark.parametrize("text", ["1 Mi", "1MiB", "Mi", "1_000", "-1", "1KI", "", "1e"])
def test_neither_takes_what_is_not_a_quantity(text):
    assert _quantity(text) is None
    with pytest.raises(ValueError):
        quantity_value(text)


@pytest.mark.parametrize("limit", ["1Ki", "32Ki", "256Ki", "512Ki", "1000Ki", "1Mi", "1536Ki", "3Mi", "8Mi", "64Mi",
                                   "1000000", "1048577"])
def test_the_pack_needs_the_timeout_the_package_needs(limit):
    """For each body limit the shortest timeout the package accepts is the one the pack asks for."""
    needed = needed_timeout_ms(_quantity(limit))

    def accepted(ms: int) -> bool:
        try:
            GatewaySpec.model_validate({"bodyLimit": limit, "messageTimeout": f"{ms}ms"})
        except ValidationError:
            return False
        return True

    assert accepted(needed) and not accepted(needed - 1)


def _crd_field(group: str, kind: str, *path: str) -> dict:
    why = crd_schema.missing()
    if why is not None:
        pytest.skip(why)
    node = crd_schema.load_crds()[(group, "v1alpha1", kind)].schema
    for key in path:
        node = node["properties"][key]
    return node


def test_envoy_gateways_defaults_as_its_crds_document_them():
    """The buffer where no ClientTrafficPolicy sets one, and the message timeout where the policy sets none."""
    buffer = _crd_field("gateway.envoyproxy.io", "ClientTrafficPolicy", "spec", "connection", "bufferLimit")
    assert f"Default: {constants.DEFAULT_BUFFER_LIMIT} bytes." in buffer["description"]
    ext_proc = _crd_field("gateway.envoyproxy.io", "EnvoyExtensionPolicy", "spec", "extProc")["items"]
    assert f"Default: {constants.DEFAULT_MESSAGE_TIMEOUT_MS}ms" in ext_proc["properties"]["messageTimeout"][
        "description"]
    assert ext_proc["properties"]["failOpen"]["default"] is False  # no failOpen: closed


# -- Istio: the labels and names the package's EnvoyFilter uses, and protobuf durations --------------------------

def test_the_istio_names():
    from sigsci_waf.gateway import istio

    assert constants.GATEWAY_NAME_LABEL == istio.GATEWAY_NAME_LABEL
    assert (constants.EXT_PROC_FILTER, constants.EXT_PROC_TYPE) == (istio.EXT_PROC_FILTER, istio.EXT_PROC_TYPE)


def test_envoys_default_listener_buffer_is_a_mebibyte():
    """Envoy's listener.proto: per_connection_buffer_limit_bytes "If unspecified, an implementation defined default
    is applied (1MiB)". The package always sets it (bodyLimit), so it has no constant to agree with."""
    assert constants.ENVOY_BUFFER_LIMIT == 1048576


@pytest.mark.parametrize("ms", [1, 200, 499, 500, 999, 1000, 1001, 1500, 2000, 8000, 64000, 90000, 3_600_000])
def test_the_pack_reads_the_packages_protobuf_durations(ms):
    from sigsci_waf.gateway.istio import proto_duration

    assert _proto_duration_ms(proto_duration(ms)) == ms


PROTO_DURATIONS = ["2s", "0.500s", "1.5s", "90s", "0s", "0.000000001s", "1.123456789s", "-1s", "-0.5s", "3600s",
                   "1.0s", "1000ms", "1m", "2", "1.5", "s", ".5s", "1.s", "+1s", "1.0000000001s", " 1s", "1s ", "1S",
                   "1e3s", ""]


@pytest.mark.parametrize("text", PROTO_DURATIONS)
def test_the_pack_reads_protobuf_durations_as_protobuf_does(text):
    """Whole milliseconds (truncated) of a Duration in protobuf JSON's canonical form: seconds, up to nine fractional
    digits, `s`. The forms only Python's lenient parser also takes are not durations to the pack: a timeout
    written so is reported as too short, never passed."""
    from google.protobuf import duration_pb2

    duration = duration_pb2.Duration()
    try:
        duration.FromJsonString(text)
    except ValueError:
        assert _proto_duration_ms(text) is None
        return
    lenient = text in ("1.s", "+1s", "1.0000000001s", " 1s")
    assert _proto_duration_ms(text) == (None if lenient else duration.seconds * 1000 + int(duration.nanos / 10 ** 6))


def test_the_component_types_and_the_module_apps_variable():
    from sigsci_waf.apps.component import _TYPE as APP_TYPE
    from sigsci_waf.config.app import DEFAULT_RPC_ADDRESS_ENV
    from sigsci_waf.gateway.component import _TYPE as GATEWAY_TYPE
    assert constants.APP_COMPONENT == APP_TYPE
    assert constants.GATEWAY_COMPONENT == GATEWAY_TYPE
    assert constants.MODULE_ADDRESS_ENV == DEFAULT_RPC_ADDRESS_ENV


@pytest.mark.parametrize("chart,flavour", CHARTS, ids=[chart for chart, _ in CHARTS])
def test_the_controller_values_and_guarded_configmap_keys(chart, flavour):
    """Where the chart keeps its IngressClass's controller value (F5's is fixed), and the ConfigMap keys the package
    guards in the release's values, which a ConfigMapPatch of the controller's ConfigMap must not set."""
    layout = constants._LAYOUTS[chart]
    assert (layout["controller_value"] is not None) is flavour.sets_controller_value
    prefix = ".".join(flavour.config_path) + "."
    guarded = sorted(k[len(prefix):] for k in flavour.guarded_values if k.startswith(prefix))
    assert sorted(layout["guarded_config"]) == guarded


def test_ingress_nginx_default_controller_value():
    import yaml

    import reference

    why = reference.missing()
    if why is not None:
        pytest.skip(why)
    values = yaml.safe_load(reference.values_file("ingress-nginx", "4.15.1").read_text())
    assert constants._DEFAULT_CONTROLLER_VALUE == values["controller"]["ingressClassResource"]["controllerValue"]
