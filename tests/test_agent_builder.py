"""The one agent builder: image policy, env, volume, security, probes. Pure functions, no Pulumi."""

import pytest

from harness import env_of

from sigsci_waf.agent.container import ExtProc, RevProxy, Rpc, build_agent, option_env_name
from sigsci_waf.config.errors import ConfigError
from sigsci_waf.config.agent import AgentSettings
from sigsci_waf.config.model import parse

REVPROXY = RevProxy(listener_port=8001, upstream="http://127.0.0.1:8000")


def agent(raw=None, mode=REVPROXY):
    return build_agent(parse(AgentSettings, raw or {}, "sigsci:agent"), "sigsci.site", mode)


def test_option_env_names_follow_the_vendor_rule():
    assert option_env_name("max-procs") == "SIGSCI_MAX_PROCS"
    assert option_env_name("debug-log-web-inputs") == "SIGSCI_DEBUG_LOG_WEB_INPUTS"


def test_default_is_a_pinned_version_pulled_if_not_present():
    parts = agent()
    assert parts.container["image"] == "signalsciences/sigsci-agent:4.70.0"
    assert parts.container["imagePullPolicy"] == "IfNotPresent"
    assert parts.warnings == []


def test_latest_is_always_pulled_with_a_warning():
    parts = agent({"version": "latest"})
    assert parts.container["imagePullPolicy"] == "Always"
    assert len(parts.warnings) == 1 and "latest" in parts.warnings[0]


def test_custom_tag_needs_an_explicit_policy():
    with pytest.raises(ConfigError) as err:
        agent({"version": "testing"})
    assert err.value.key == "sigsci:agent.imagePullPolicy"
    parts = agent({"version": "testing", "imagePullPolicy": "Never"})
    assert parts.container["imagePullPolicy"] == "Never"
    assert parts.container["image"].endswith(":testing")


def test_digest_and_mirror_repository():
    digest = "sha256:" + "ab" * 32
    parts = agent({"repository": "mirror.example/waf/sigsci-agent", "digest": digest})
    assert parts.container["image"] == f"mirror.example/waf/sigsci-agent:4.70.0@{digest}"


def test_credentials_come_only_from_the_secret():
    env = env_of(agent().container)
    assert env["SIGSCI_ACCESSKEYID"] == {"secretKeyRef": {"name": "sigsci.site", "key": "accesskeyid"}}
    assert env["SIGSCI_SECRETACCESSKEY"] == {"secretKeyRef": {"name": "sigsci.site", "key": "secretaccesskey"}}


def test_revproxy_listener_and_port():
    container = agent().container
    assert env_of(container)["SIGSCI_REVPROXY_LISTENER"] == (
        "http:{listener=http://0.0.0.0:8001,upstreams=http://127.0.0.1:8000,access-log='/dev/stdout'}")
    assert container["ports"] == [{"name": "sigsci-http", "containerPort": 8001, "protocol": "TCP"},
                                  {"name": "sigsci-startup", "containerPort": 2024, "protocol": "TCP"}]
    assert container["readinessProbe"]["tcpSocket"] == {"port": 8001}
    assert "SIGSCI_RPC_ADDRESS" not in env_of(container)


def test_access_log_can_be_turned_off():
    assert "access-log" not in env_of(agent({"accessLog": False}).container)["SIGSCI_REVPROXY_LISTENER"]


def test_secure_defaults():
    context = agent().container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["runAsNonRoot"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    resources = agent().container["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


def test_temp_volume_moves_with_rpc_address_and_cache_dir():
    parts = agent({"tmpMountPath": "/var/run/sigsci"}, mode=Rpc())
    assert parts.volume == {"name": "sigsci-tmp", "emptyDir": {}}
    assert parts.container["volumeMounts"] == [{"name": "sigsci-tmp", "mountPath": "/var/run/sigsci"}]
    env = env_of(parts.container)
    assert env["SIGSCI_RPC_ADDRESS"] == "/var/run/sigsci/sigsci.sock"
    assert env["SIGSCI_SHARED_CACHE_DIR"] == "/var/run/sigsci/cache"


def test_default_mount_matches_the_vendor_defaults():
    env = env_of(agent(mode=Rpc()).container)
    assert env["SIGSCI_RPC_ADDRESS"] == "/sigsci/tmp/sigsci.sock"
    assert env["SIGSCI_SHARED_CACHE_DIR"] == "/sigsci/tmp/cache"


def test_pre_stop_sleep_default_and_override():
    assert agent().container["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "30"]}}}
    assert agent({"preStopSleepSeconds": 45}).container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "45"]
    assert "lifecycle" not in agent({"preStopSleepSeconds": 0}).container


STARTUP_PROBE = {"httpGet": {"path": "/startup", "port": 2024}, "failureThreshold": 90, "periodSeconds": 2}


@pytest.mark.parametrize("mode", [REVPROXY, Rpc(), Rpc(tcp_port=9999), Rpc(tcp_port=9999, local=True),
                                  ExtProc(port=50051)], ids=["revproxy", "socket", "service", "local", "ext_proc"])
def test_startup_probe_is_on_by_default(mode):
    """Without it the agent counts as started (a native sidecar) or ready before it answers with its rules, and
    the module fails open: on in every mode unless opted out."""
    container = agent(mode=mode).container
    assert env_of(container)["SIGSCI_STARTUP_PROBE_LISTENER"] == "0.0.0.0:2024"
    assert container["startupProbe"] == STARTUP_PROBE
    assert {"name": "sigsci-startup", "containerPort": 2024, "protocol": "TCP"} in container["ports"]
    assert agent({"startupProbe": {"enabled": True}}, mode=mode).container == container


def test_startup_probe_can_be_turned_off():
    container = agent({"startupProbe": {"enabled": False}}).container
    assert "startupProbe" not in container
    assert "SIGSCI_STARTUP_PROBE_LISTENER" not in env_of(container)
    assert container["ports"] == [{"name": "sigsci-http", "containerPort": 8001, "protocol": "TCP"}]
    assert "startupProbe" not in agent({"startupProbe": {"enabled": False}}, mode=Rpc()).container


def test_startup_probe_settings():
    container = agent({"startupProbe": {"port": 3024, "failureThreshold": 10, "periodSeconds": 5}}).container
    assert env_of(container)["SIGSCI_STARTUP_PROBE_LISTENER"] == "0.0.0.0:3024"
    assert container["startupProbe"] == {"httpGet": {"path": "/startup", "port": 3024},
                                         "failureThreshold": 10, "periodSeconds": 5}


def test_startup_probe_needs_a_recent_agent():
    """Turned on by hand, the probe is the key to fix; on by default, the version that cannot run it. Either
    way the one line says both ways out."""
    with pytest.raises(ConfigError) as err:
        agent({"version": "4.50.0", "startupProbe": {"enabled": True}})
    assert err.value.key == "sigsci:agent.startupProbe.enabled"
    assert "4.51.0" in err.value.problem and "startupProbe.enabled: false" in err.value.problem
    for old in ("4.50.0", "v4.40.0", "3.99.9"):
        with pytest.raises(ConfigError) as err:
            agent({"version": old})
        assert err.value.key == "sigsci:agent.version"
        assert "\n" not in str(err.value)
        assert "on by default" in err.value.problem and "upgrade" in err.value.problem
        assert "startupProbe.enabled: false" in err.value.problem
        assert "startupProbe" not in agent({"version": old, "startupProbe": {"enabled": False}}).container


@pytest.mark.parametrize("raw", [{"version": "4.51.0"}, {"version": "v4.51.0"}, {"version": "latest"},
                                 {"version": "4.40.0-custom", "imagePullPolicy": "IfNotPresent"},
                                 {"version": "testing", "imagePullPolicy": "Never", "digest": "sha256:" + "ab" * 32}])
def test_startup_probe_with_a_tag_that_cannot_be_judged_or_is_new_enough(raw):
    """4.51.0 is the first agent with the probe; a tag that is not a release version is not judged."""
    assert agent(raw).container["startupProbe"] == STARTUP_PROBE


def test_options_become_env_and_max_procs_follows_the_cpu_limit():
    env = env_of(agent({"options": {"log-out": "/dev/stdout", "inspect-websocket": True}}).container)
    assert env["SIGSCI_LOG_OUT"] == "/dev/stdout"
    assert env["SIGSCI_INSPECT_WEBSOCKET"] == "true"
    assert env["SIGSCI_MAX_PROCS"] == "1"
    env = env_of(agent({"resources": {"limits": {"cpu": "2500m"}}}).container)
    assert env["SIGSCI_MAX_PROCS"] == "3"
    env = env_of(agent({"options": {"max-procs": 4}}).container)
    assert env["SIGSCI_MAX_PROCS"] == "4"


@pytest.mark.parametrize("name,fragment", [
    ("SIGSCI_LOG_OUT", "lower case with dashes"),
    ("rpc-address", "derived from tmpMountPath"),
    ("accesskeyid", "credentials come from the Secret"),
    ("max-proc", "Did you mean 'max-procs'"),
])
def test_option_names_are_checked(name, fragment):
    with pytest.raises(ConfigError) as err:
        agent({"options": {name: "1"}})
    assert err.value.key == f"sigsci:agent.options.{name}"
    assert fragment in str(err.value)


def test_unknown_option_points_to_unlisted_options():
    with pytest.raises(ConfigError) as err:
        agent({"options": {"brand-new-option": "1"}})
    assert "unlistedOptions" in str(err.value)


def test_unlisted_options_reach_the_env_with_a_warning():
    parts = agent({"unlistedOptions": {"brand-new-option": 7}})
    assert env_of(parts.container)["SIGSCI_BRAND_NEW_OPTION"] == "7"
    assert any("'brand-new-option'" in w and "unlistedOptions" in w for w in parts.warnings)
    assert not agent().warnings


@pytest.mark.parametrize("raw,key,fragment", [
    ({"unlistedOptions": {"max-procs": 2}}, "sigsci:agent.unlistedOptions.max-procs", "set it under options"),
    ({"unlistedOptions": {"SIGSCI_X": 2}}, "sigsci:agent.unlistedOptions.SIGSCI_X", "lower case with dashes"),
    ({"unlistedOptions": {"shared-cache-dir": "/x"}}, "sigsci:agent.unlistedOptions.shared-cache-dir",
     "derived from tmpMountPath"),
])
def test_unlisted_options_still_guard_spelling_and_owned_names(raw, key, fragment):
    with pytest.raises(ConfigError) as err:
        agent(raw)
    assert err.value.key == key
    assert fragment in str(err.value)


def test_documented_options_cover_the_vendor_examples():
    from sigsci_waf.agent.options import KNOWN_OPTIONS

    for name in ("max-procs", "server-hostname", "log-out", "rpc-address", "shared-cache-dir", "waf-data-log",
                 "upload-interval", "inspect-websocket", "client-ip-header", "debug-log-web-inputs",
                 "startup-probe-listener", "startup-probe-filepath", "revproxy-listener",
                 # the vendor's Envoy, Envoy Gateway, HAProxy, gRPC and StatsD guides
                 "envoy-grpc-address", "envoy-grpc-cert", "envoy-grpc-key", "envoy-extproc-enabled",
                 "server-flavor", "haproxy-spoa-enabled", "inspection-max-content-length", "statsd-type"):
        assert name in KNOWN_OPTIONS


def test_option_values_reach_the_env_as_the_agent_reads_them():
    env = env_of(agent({"options": {"max-procs": "3", "debug-log-blocked-requests": "true",
                                    "debug-log-web-inputs": 2, "context-expiration": 500}}).container)
    assert env["SIGSCI_MAX_PROCS"] == "3" and env["SIGSCI_DEBUG_LOG_BLOCKED_REQUESTS"] == "true"
    assert env["SIGSCI_DEBUG_LOG_WEB_INPUTS"] == "2" and env["SIGSCI_CONTEXT_EXPIRATION"] == "500"
    with pytest.raises(ConfigError) as err:
        agent({"options": {"max-procs": -5}})
    assert err.value.key == "sigsci:agent.options.max-procs" and "1 or more" in str(err.value)


def test_env_order_does_not_depend_on_option_order():
    one = agent({"options": {"log-out": "/dev/stdout", "inspect-websocket": True}})
    two = agent({"options": {"inspect-websocket": True, "log-out": "/dev/stdout"}})
    assert one.container == two.container
