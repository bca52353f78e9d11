"""The checks behind the policy pack, as plain functions of resource types and properties.

Each `validate_*` takes the arguments CrossGuard passes (`args`, `report_violation`), so the pack
and the tests call the very same code. One module holds one policy and is named after it
(`no_bypass_service` checks `sigsci-no-bypass-service`); what more than one policy uses is in
`common` (plain data, images, containers, charts), `stack` (what a stack protects), `network` (what its
NetworkPolicies admit), `gateway` (what its Gateway API, Envoy Gateway and Istio objects say), `istio` (an
EnvoyFilter's patches in Envoy's terms) and `routes` (which Services the WAF routes to), and what the pack knows about
the agent, the charts, the gateway and Istio is in `constants`.
"""

from .agent_hardened import validate_agent_hardened
from .controller_module import validate_controller_module
from .controller_reaches_agents import validate_controller_reaches_agents
from .extproc_fail_closed import validate_extproc_fail_closed
from .gateway_covered import validate_gateway_covered
from .module_kept import validate_module_kept
from .no_bypass_ingress import validate_no_bypass_ingress
from .no_bypass_network_policy import validate_no_bypass_network_policy
from .no_bypass_route import validate_no_bypass_route
from .no_bypass_service import validate_no_bypass
from .no_unprotected_pods import validate_no_unprotected_pods
from .pinned_versions import validate_pinned_versions
from .valid_image_digests import validate_image_digests

__all__ = ["validate_agent_hardened", "validate_controller_module", "validate_controller_reaches_agents",
           "validate_extproc_fail_closed", "validate_gateway_covered", "validate_image_digests", "validate_module_kept",
           "validate_no_bypass",
           "validate_no_bypass_ingress", "validate_no_bypass_network_policy", "validate_no_bypass_route",
           "validate_no_unprotected_pods", "validate_pinned_versions"]
