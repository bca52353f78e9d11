"""Policy pack: keeps Fastly Next-Gen WAF coverage. Run with `pulumi preview --policy-pack policy`."""

from pulumi_policy import (EnforcementLevel, PolicyConfigSchema, PolicyPack, ResourceValidationPolicy,
                           StackValidationPolicy)

from sigsci_policies import (validate_agent_hardened, validate_controller_module, validate_controller_reaches_agents,
                             validate_extproc_fail_closed, validate_gateway_covered, validate_image_digests,
                             validate_module_kept, validate_no_bypass, validate_no_bypass_ingress,
                             validate_no_bypass_network_policy, validate_no_bypass_route, validate_no_unprotected_pods,
                             validate_pinned_versions)

PolicyPack(
    name="sigsci-waf-coverage",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        StackValidationPolicy(
            name="sigsci-no-bypass-service",
            description="No Service or ServicePatch sends traffic straight to an app port that a WAF agent "
                        "proxies to, and no Service exposes an agent-fronted upstream outside the cluster.",
            validate=validate_no_bypass,
        ),
        StackValidationPolicy(
            name="sigsci-no-unprotected-pods",
            description="No pods without the agent carry the labels a WAF-protected Service or agent workload "
                        "selects.",
            validate=validate_no_unprotected_pods,
        ),
        StackValidationPolicy(
            name="sigsci-no-bypass-network-policy",
            description="No NetworkPolicy admits traffic from anywhere to the app's own port of pods whose agent "
                        "proxies to an app beside it, undoing the listener-only policy on them.",
            validate=validate_no_bypass_network_policy,
        ),
        StackValidationPolicy(
            name="sigsci-no-bypass-ingress",
            description="No Ingress of another class routes to an agents' upstream Service or to a Service the "
                        "WAF inspects (through its controller or a Gateway it covers).",
            validate=validate_no_bypass_ingress,
        ),
        StackValidationPolicy(
            name="sigsci-no-bypass-route",
            description="No Gateway API route on a Gateway the WAF does not cover reaches an agents' upstream "
                        "Service or a Service the WAF inspects.",
            validate=validate_no_bypass_route,
        ),
        StackValidationPolicy(
            name="sigsci-gateway-covered",
            description="On a Gateway whose EnvoyExtensionPolicy or EnvoyFilter sends requests to the WAF agents, "
                        "no other policy replaces it on a route or listener or conflicts with it, no EnvoyFilter takes "
                        "the agents' ext_proc filter out or turns it off on routes, every listener is covered, and no "
                        "TCP, TLS or UDP route carries traffic past the HTTP filter.",
            validate=validate_gateway_covered,
        ),
        StackValidationPolicy(
            name="sigsci-extproc-fail-closed",
            description="Every extProc entry or ext_proc filter to the WAF agents fails closed (unless "
                        "allowFailOpen), waits long enough for the proxies' body buffer, and sends the request body "
                        "buffered.",
            validate=validate_extproc_fail_closed,
            config_schema=PolicyConfigSchema(properties={
                "allowFailOpen": {"type": "boolean", "default": False},
            }),
        ),
        StackValidationPolicy(
            name="sigsci-controller-reaches-agents",
            description="No egress NetworkPolicy on the pods of a WAF ingress controller whose agents run as their "
                        "own Service leaves them without a way to the agents' port (the module fails open).",
            validate=validate_controller_reaches_agents,
        ),
        StackValidationPolicy(
            name="sigsci-module-kept",
            description="No ConfigMap or ConfigMapPatch of a WAF controller's ConfigMap rewrites the module's "
                        "snippets or sets a key its release guards, and no module app's container (or a patch of its "
                        "workload) points its address variable away from its agent.",
            validate=validate_module_kept,
        ),
        ResourceValidationPolicy(
            name="sigsci-agent-hardened",
            description="Agent containers keep a read-only root filesystem and take credentials only from a "
                        "Secret; no workload, Helm release or ConfigMap carries the agent keys as literals.",
            validate=validate_agent_hardened,
        ),
        ResourceValidationPolicy(
            name="sigsci-pinned-versions",
            description="No latest (or untagged) agent or controller image where versions must be pinned.",
            validate=validate_pinned_versions,
            config_schema=PolicyConfigSchema(properties={
                "requirePinnedVersions": {"type": "boolean", "default": True},
            }),
        ),
        ResourceValidationPolicy(
            name="sigsci-valid-image-digests",
            description="Agent and Fastly controller images carry well-formed digests (and ingress-nginx's default "
                        "digest is cleared for the Fastly image).",
            validate=validate_image_digests,
        ),
        ResourceValidationPolicy(
            name="sigsci-controller-module",
            description="A Fastly ingress controller release keeps the module loaded in its own ConfigMap and "
                        "pointed at the agent's socket.",
            validate=validate_controller_module,
        ),
    ],
)
