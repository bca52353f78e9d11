"""Objects the policy tests add to what the stacks emit: NetworkPolicies, and the stack's read of a patched app's
Deployment, shaped as the Kubernetes API wants them."""

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NETWORK_POLICY_PATCH = "kubernetes:networking.k8s.io/v1:NetworkPolicyPatch"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"

# The pods' labels the prod stack's controller release gets from the nginx-ingress chart, and its agents' pods.
PROD_CONTROLLER = {"app.kubernetes.io/name": "nginx-ingress", "app.kubernetes.io/instance": "sigsci-nginx-ingress"}
PROD_AGENTS = {"app.kubernetes.io/name": "sigsci-agent", "app.kubernetes.io/instance": "sigsci-nginx-ingress",
               "app.kubernetes.io/component": "ingress-agent"}
DNS = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
               "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
       "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}


def network_policy(pulumi_name, name, namespace, pod_selector=None, ingress=None, egress=None, types=None,
                   patch=False):
    """A NetworkPolicy (or a patch of one: only the fields given) selecting `pod_selector` (a LabelSelector;
    None: every pod)."""
    spec = {}
    if pod_selector is not None or not patch:
        spec["podSelector"] = pod_selector if pod_selector is not None else {}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    if types is not None:
        spec["policyTypes"] = types
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return (NETWORK_POLICY_PATCH if patch else NETWORK_POLICY, pulumi_name,
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata, "spec": spec})


def egress_policy(pulumi_name, *rules, namespace="sigsci-ingress", pod_selector=None):
    """An egress policy on the prod controller's pods (or `pod_selector`) with these rules."""
    selector = pod_selector if pod_selector is not None else {"matchLabels": dict(PROD_CONTROLLER)}
    return network_policy(pulumi_name, pulumi_name, namespace, selector, egress=list(rules), types=["Egress"])


def to_agents(port=9999, protocol="TCP", peer=None):
    """An egress rule to the prod controller's agents (or `peer`) on `port`."""
    peer = peer if peer is not None else {"podSelector": {"matchLabels": dict(PROD_AGENTS)}}
    return {"to": [peer], "ports": [{"protocol": protocol, "port": port}]}


def live_deployment(pulumi_name, name, namespace, pod_labels, port=8080, port_name="http"):
    """The stack's read of a patched app's Deployment, as the cluster holds it (its owner's pods, without the
    agent)."""
    return (DEPLOYMENT, pulumi_name, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"matchLabels": dict(pod_labels)}, "template": {
            "metadata": {"labels": dict(pod_labels)},
            "spec": {"containers": [{"name": name, "image": "registry.example.com/shop/checkout:3.1",
                                     "ports": [{"containerPort": port, "name": port_name, "protocol": "TCP"}]}]}}}})
