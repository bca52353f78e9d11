"""The component provider installs the way Pulumi installs a Python plugin, and works from that install.

`pulumi package add <repository>/provider` (a git URL clones the whole repository; a local path uses the
folder as it is) runs, for a plugin whose PulumiPlugin.yaml says `runtime: python`:

    python -m venv <plugin>/venv                       (the default virtualenv of a Python plugin)
    venv/bin/python -m pip install --upgrade pip setuptools wheel      (cwd: the plugin folder)
    venv/bin/python -m pip install -r requirements.txt                 (cwd: the plugin folder)

and then starts the plugin as `venv/bin/python <plugin folder> <engine address>` from the program's folder.
This test does the same with a copy of the repository, then starts that provider process and talks to it over
gRPC on the loopback interface as the engine would: GetPluginInfo, GetSchema, and Construct of each component
against a stand-in resource monitor (which records what the components register instead of deploying it).

What differs from Pulumi, and why: there is no network here, so dependencies come from the test environment
(a .pth file in the new venv, `--no-index`, `--no-build-isolation`, as tests/test_install.py does), and the
`--upgrade pip setuptools wheel` step becomes: the venv's bundled setuptools is removed so that the test
environment's newer one is used. The package itself is built and installed from the copy,
and the copy's components/ is removed before the provider starts, so nothing is read from a checkout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import threading
import tomllib
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import (engine_pb2, engine_pb2_grpc, provider_pb2, provider_pb2_grpc, resource_pb2,
                                  resource_pb2_grpc)

import harness
from invariants import plain_credentials

VERSION = tomllib.loads((harness.ROOT / "pyproject.toml").read_text())["project"]["version"]
COMPONENTS = ["SigsciGateway", "SigsciIngressController", "SigsciInjection", "SigsciRevProxyApp", "SigsciSecret"]


# -- a stand-in engine: resource monitor and engine services on 127.0.0.1 ----------------------------------

class Monitor(resource_pb2_grpc.ResourceMonitorServicer):
    """Records every registration and answers with the inputs as outputs (as the mock monitor does)."""

    FEATURES = [
        resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS,
        resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
        resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS,
        resource_pb2.RESOURCE_MONITOR_FEATURE_DELETED_WITH,
        resource_pb2.RESOURCE_MONITOR_FEATURE_TRANSFORMS,
        resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_TRANSFORMS,
        resource_pb2.RESOURCE_MONITOR_FEATURE_PARAMETERIZATION,
        resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_HOOKS,
    ]

    def __init__(self):
        self.registered: list[dict] = []
        self.lock = threading.Lock()

    def GetDeploymentInfo(self, request, context):
        return resource_pb2.DeploymentInfo(supportedFeatures=self.FEATURES)

    def SupportsFeature(self, request, context):
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id != "outputValues")

    def RegisterResource(self, request, context):
        urn = f"urn:pulumi:test::consumer::{request.type}::{request.name}"
        inputs = json_format.MessageToDict(request.object)
        with self.lock:
            self.registered.append({"type": request.type, "name": request.name, "custom": request.custom,
                                    "parent": request.parent, "inputs": inputs})
        state = struct_pb2.Struct()
        state.CopyFrom(request.object)
        if request.type == "random:index/randomId:RandomId":
            state.update({"hex": "00112233aabbccdd"})
        return resource_pb2.RegisterResourceResponse(urn=urn, id=f"{request.name}-id" if request.custom else "",
                                                     object=state)

    def ReadResource(self, request, context):
        urn = f"urn:pulumi:test::consumer::{request.type}::{request.name}"
        with self.lock:
            self.registered.append({"type": request.type, "name": request.name, "custom": True, "read": True,
                                    "parent": request.parent, "inputs": json_format.MessageToDict(request.properties)})
        return resource_pb2.ReadResourceResponse(urn=urn, properties=request.properties)

    def RegisterResourceOutputs(self, request, context):
        return empty_pb2.Empty()

    def Invoke(self, request, context):
        result = struct_pb2.Struct()
        if request.tok == "kubernetes:helm:template":  # what injection reads the cluster with: a 1.36 cluster
            result.update({"result": [harness.render_capabilities(harness.CLUSTER_1_36)]})
        return resource_pb2.ResourceInvokeResponse(**{"return": result})

    def RegisterPackage(self, request, context):
        return resource_pb2.RegisterPackageResponse(ref="package-ref")

    def RegisterResourceHook(self, request, context):
        return empty_pb2.Empty()

    def RegisterStackTransform(self, request, context):
        return empty_pb2.Empty()

    def RegisterStackInvokeTransform(self, request, context):
        return empty_pb2.Empty()

    def SignalAndWaitForShutdown(self, request, context):
        return empty_pb2.Empty()


class Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self):
        self.logs: list[tuple[int, str]] = []

    def Log(self, request, context):
        self.logs.append((request.severity, request.message))
        return empty_pb2.Empty()

    def GetRootResource(self, request, context):
        return engine_pb2.GetRootResourceResponse(urn="")

    def SetRootResource(self, request, context):
        return engine_pb2.SetRootResourceResponse()


# -- the install ----------------------------------------------------------------------------------------------

def _copy_repository(target: Path) -> Path:
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "venv", "build")
    for folder in ("components", "provider"):
        shutil.copytree(harness.ROOT / folder, target / folder, ignore=skip)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (harness.ROOT / name).exists():
            shutil.copy(harness.ROOT / name, target / name)
    return target / "provider"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("clone")
    plugin = _copy_repository(root)
    venv_dir = plugin / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True, timeout=300)
    python = venv_dir / "bin" / "python"
    site = Path(subprocess.check_output(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True).strip())
    (site / "_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # Pulumi's `pip install --upgrade pip setuptools wheel`, offline: the setuptools that `python -m venv` bundles
    # (Python 3.11) would shadow the test environment's newer one, so it goes; the newer one stands in for the
    # upgrade.
    if (site / "setuptools").is_dir():  # Python 3.12 and later no longer bundle it
        subprocess.run([str(python), "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools"], check=True,
                       timeout=300)
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-build-isolation",
                           "--disable-pip-version-check", "-r", "requirements.txt"],
                          cwd=plugin, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shutil.rmtree(root / "components")  # the provider must run from what pip installed
    return {"plugin": plugin, "python": python, "site": site, "pip": done.stdout}


def test_the_requirements_install_the_package_into_the_plugin_venv(installed):
    site = installed["site"]
    assert (site / "sigsci_waf" / "__init__.py").is_file()
    assert (site / "sigsci_waf" / "py.typed").is_file(), "py.typed is package data"
    [dist] = site.glob("pulumi_sigsci_waf-*.dist-info")
    assert dist.name == f"pulumi_sigsci_waf-{VERSION}.dist-info"
    # Not an editable install pointing back at a checkout.
    assert not list(site.glob("__editable__*pulumi_sigsci_waf*"))


def test_the_requirements_do_not_include_the_root_requirements():
    """`-r ../requirements.txt` brought in `-e .`, which pip resolves against provider/ and fails on."""
    lines = [line.strip() for line in (harness.ROOT / "provider" / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines == [".."]


def test_the_installed_package_reports_its_version(installed):
    done = subprocess.run([str(installed["python"]), "-c",
                           "import json, sigsci_waf; print(json.dumps([sigsci_waf.__version__, sigsci_waf.__file__]))"],
                          capture_output=True, text=True, timeout=300, cwd=installed["plugin"].parent)
    assert done.returncode == 0, done.stderr[-3000:]
    version, location = json.loads(done.stdout)
    assert version == VERSION
    assert location.startswith(str(installed["site"]))


# -- the running provider -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def provider(installed, tmp_path_factory):
    monitor, engine = Monitor(), Engine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(monitor, server)
    engine_pb2_grpc.add_EngineServicer_to_server(engine, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    program_dir = tmp_path_factory.mktemp("program")  # Pulumi starts the plugin from the program's folder
    log = program_dir / "provider.stderr"
    with log.open("w") as stderr:
        process = subprocess.Popen([str(installed["python"]), str(installed["plugin"]), f"127.0.0.1:{port}"],
                                   cwd=program_dir, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        line = _first_line(process, timeout=180)
        if not line.strip().isdigit():
            process.kill()
            process.wait()
            pytest.fail(f"the provider printed {line!r} instead of its port; stderr: {log.read_text()[-3000:]}")
        channel = grpc.insecure_channel(f"127.0.0.1:{line.strip()}")
        grpc.channel_ready_future(channel).result(timeout=60)
        yield {"stub": provider_pb2_grpc.ResourceProviderStub(channel), "monitor": monitor, "engine": engine,
               "monitor_address": f"127.0.0.1:{port}", "stderr": log}
        channel.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.stop(grace=None)


def _first_line(process: subprocess.Popen, timeout: float) -> str:
    """The port the provider prints first (read in a thread: readline alone cannot time out)."""
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else f"<nothing within {timeout} s>"


def test_the_provider_reports_the_package_version(provider):
    info = provider["stub"].GetPluginInfo(empty_pb2.Empty(), timeout=60)
    assert info.version == VERSION


def test_the_provider_serves_the_schema(provider):
    schema = json.loads(provider["stub"].GetSchema(provider_pb2.GetSchemaRequest(), timeout=60).schema)
    assert schema["name"] == "sigsci"
    assert schema["version"] == VERSION
    assert sorted(schema["resources"]) == [f"sigsci:index:{c}" for c in COMPONENTS]
    for token, resource in schema["resources"].items():
        assert resource["isComponent"] is True, token
        assert resource["inputProperties"] and resource["properties"], token


def _construct(provider, name: str, component: str, inputs: dict) -> tuple[provider_pb2.ConstructResponse, list]:
    before = len(provider["monitor"].registered)
    struct = struct_pb2.Struct()
    struct.update(inputs)
    response = provider["stub"].Construct(provider_pb2.ConstructRequest(
        project="consumer", stack="test", organization="organization", dryRun=True,
        type=f"sigsci:index:{component}", name=name, inputs=struct,
        monitorEndpoint=provider["monitor_address"]), timeout=300)
    return response, provider["monitor"].registered[before:]


CALLS = {
    "SigsciSecret": ("keys", {"namespaces": ["default", "edge"], "site": "demo",
                              "accessKeyId": harness.PLANTED_KEY_ID, "secretAccessKey": harness.PLANTED_SECRET},
                     {"kubernetes:core/v1:Secret", "random:index/randomId:RandomId"}, {"secretName", "credentialsHash"}),
    "SigsciRevProxyApp": ("web", {"secretName": "sigsci.demo", "image": "example/web:1.0", "port": 8080,
                                  "agent": {"startupProbe": {"enabled": True}}},
                          {"kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service",
                           "kubernetes:networking.k8s.io/v1:NetworkPolicy"}, {"serviceName", "namespace"}),
    "SigsciIngressController": ("edge", {"secretName": "sigsci.demo", "namespace": "edge",
                                         "agentLifetime": "service",
                                         "routes": [{"service": {"name": "web", "port": 8080},
                                                     "namespace": "default"}]},
                                {"kubernetes:helm.sh/v3:Release", "kubernetes:networking.k8s.io/v1:Ingress",
                                 "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service"},
                                {"namespace", "releaseName", "ingressClass", "serviceName"}),
    "SigsciGateway": ("gw", {"secretName": "sigsci.demo", "namespace": "gw", "bodyLimit": "2Mi",
                             "messageTimeout": "3s", "agents": {"port": 9443},
                             "routes": [{"service": {"name": "web", "port": 8080}, "namespace": "default"}]},
                      {"kubernetes:helm.sh/v3:Release", "kubernetes:apps/v1:Deployment",
                       "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
                       "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyExtensionPolicy"},
                      {"namespace", "gatewayNamespace", "gatewayName"}),
    "SigsciInjection": ("inject", {"secretName": "sigsci.demo", "namespaces": ["shop"], "runAsUser": 2000,
                                   "agent": {"version": "4.70.0"}},
                        {"kubernetes:core/v1:ConfigMap",
                         "kubernetes:admissionregistration.k8s.io/v1:MutatingAdmissionPolicy",
                         "kubernetes:admissionregistration.k8s.io/v1:MutatingAdmissionPolicyBinding",
                         "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
                         "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"},
                        {"policyName", "paramsNamespace"}),
}


# The engine hands a component its inputs as a protobuf Struct, where every number is a double: `port: 8080` in a
# YAML or TypeScript program arrives as 8080.0, as it does here. (The in-process construct test in
# test_provider_schema.py passes Python ints.)
@pytest.mark.parametrize("component", COMPONENTS)
def test_the_provider_constructs_each_component(provider, component):
    name, inputs, child_types, outputs = CALLS[component]
    response, registered = _construct(provider, name, component, inputs)
    assert response.urn.endswith(f"sigsci:index:{component}::{name}")
    [own] = [r for r in registered if r["type"] == f"sigsci:index:{component}"]
    assert own["custom"] is False  # a component, built inside the provider
    types = {r["type"] for r in registered if r["custom"]}
    assert child_types <= types, sorted(types)
    state = json_format.MessageToDict(response.state)
    assert outputs <= set(state), sorted(state)
    for resource in registered:
        assert plain_credentials(harness.clean(resource["inputs"])) == [], resource["name"]
    assert plain_credentials(harness.clean(state)) == []


def test_bad_input_through_the_running_provider_names_the_key(provider):
    with pytest.raises(grpc.RpcError) as err:
        _construct(provider, "bad", "SigsciRevProxyApp",
                   {"secretName": "sigsci.demo", "image": "example/web:1.0", "port": 70000})
    assert "SigsciRevProxyApp 'bad'.port" in err.value.details()
