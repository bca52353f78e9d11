"""Policy pack: keeps Fastly Next-Gen WAF coverage. Run with `pulumi preview --policy-pack policy`."""

from pulumi_policy import (EnforcementLevel, PolicyConfigSchema, PolicyPack, ResourceValidationPolicy,
                           StackValidationPolicy)

from sigsci_policies import validate_agent_hardened, validate_no_bypass, validate_pinned_versions

PolicyPack(
    name="sigsci-waf-coverage",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        StackValidationPolicy(
            name="sigsci-no-bypass-service",
            description="No Service sends traffic straight to an app port that a WAF agent proxies to.",
            validate=validate_no_bypass,
        ),
        ResourceValidationPolicy(
            name="sigsci-agent-hardened",
            description="Agent containers keep a read-only root filesystem and take credentials only from a Secret.",
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
    ],
)
