"""The restore hook's request, as it leaves for the API server: captured by a stand-in server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pulumi
import pytest

from sigsci_waf.apps.restore import RESTORE_MANAGER, KubernetesWriter, restore

SERVICE_PATCH = {"metadata": {"name": "checkout", "namespace": "shop",
                              "annotations": {"pulumi.com/patchForce": "true",
                                              "sigsci.fastly.com/owner-target-port": "http"}},
                 "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": "sigsci-http"}]}}


@pytest.fixture
def api_server(tmp_path, monkeypatch):
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PATCH(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"path": self.path, "content_type": self.headers["Content-Type"], "body": json.loads(body)})
            reply = json.dumps({"apiVersion": "v1", "kind": "Service",
                                "metadata": {"name": "checkout", "namespace": "shop"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "users": [{"name": "test", "user": {}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    # No kubernetes:* config left over from programs other tests ran in this process.
    pulumi.runtime.set_all_config({}, [])
    yield seen
    server.shutdown()


def test_the_restore_is_a_strategic_merge_patch_under_its_own_field_manager(api_server):
    assert restore(SERVICE_PATCH, KubernetesWriter()) is True
    assert api_server == [{
        "path": f"/api/v1/namespaces/shop/services/checkout?fieldManager={RESTORE_MANAGER}",
        "content_type": "application/strategic-merge-patch+json",
        "body": {"spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": "http"}]}},
    }]


def test_nothing_recorded_sends_nothing(api_server):
    bare = {"metadata": {"name": "checkout", "namespace": "shop"}, "spec": SERVICE_PATCH["spec"]}
    assert restore(bare, KubernetesWriter()) is False
    assert api_server == []
