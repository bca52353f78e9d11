"""Embed the components in your own program: the keys, one app behind the agent, and the ingress
controller with the Fastly module routing to it."""

import pulumi

from sigsci_waf import SigsciIngressController, SigsciRevProxyApp, SigsciSecret

config = pulumi.Config()
keys = SigsciSecret("keys", {
    "namespaces": ["web", "sigsci-ingress"],
    "site": config.require("site"),
    "access_key_id": config.require_secret("agentKeyId"),
    "secret_access_key": config.require_secret("agentSecret"),
})
after_keys = pulumi.ResourceOptions(depends_on=[keys])
web = SigsciRevProxyApp("web", {
    "namespace": "web", "image": "example/web:1.4.2", "port": 8080,
    "secret_name": keys.secret_name, "credentials_hash": keys.credentials_hash,
}, opts=after_keys)
edge = SigsciIngressController("edge", {
    "secret_name": keys.secret_name, "credentials_hash": keys.credentials_hash,
    "namespace": "sigsci-ingress",
    "routes": [{"app": "web", "host": "web.example.com"}],
}, apps=[web], opts=after_keys)
pulumi.export("loadBalancerAddress", edge.load_balancer_address)
