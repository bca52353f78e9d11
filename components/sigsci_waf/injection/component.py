"""SigsciInjection: agents added at admission to pods labelled `sigsci.fastly.com/agent: module`."""

from typing import Any, Optional, Required, TypedDict

import pulumi

from ..config.agent import AgentSettings
from ..config.args import AgentArgs, plain_values
from ..config.errors import check_call, report_once
from ..config.refs import ADMISSION_API, SECRET_NAME
from ..declare import declare, registered
from ..resolve.deferred import refuse_outputs
from ..resolve.injection import ResolvedInjection, resolve_injection
from ..resolve.secret import NOT_SETTINGS, check_secret_name, check_secret_reaches
from .build import POLICY_NAME
from .capabilities import TEMPLATE_CALL, check_served, template_args


class SigsciInjectionArgs(TypedDict, total=False):
    """The same keys as `sigsci:injection` in stack config, in snake_case."""

    secret_name: Required[pulumi.Input[str]]
    """Name of the Secret holding the agent keys in every opted-in namespace (`SigsciSecret.secret_name`)."""
    namespaces: Required[list[str]]
    """The opted-in namespaces: labelled pods created there get the agent."""
    params_namespace: str
    """Where the policy's parameter ConfigMap lives (it must exist; the component does not create it): who may edit
    ConfigMaps there chooses the agent of every injected pod. Default: `sigsci-injection`."""
    agent: AgentArgs
    """Agent settings (repository, version, resources, options, ...), over the defaults."""
    rpc_address_env: str
    """The app containers' variable that says where the agent's socket is. Default: `SIGSCI_RPC_ADDRESS`."""
    run_as_user: int
    """The agent runs as the pod's first container's user (so the socket is the app's); this one when the pod
    names none. Default: `10001`."""


_TYPE = "sigsci:index:SigsciInjection"


class SigsciInjection(pulumi.ComponentResource):
    """A MutatingAdmissionPolicy that adds the agent (module shape) to labelled pods, the ValidatingAdmissionPolicy
    that refuses a labelled pod without exactly that agent (checked against the same parameters), and their
    parameters."""

    policy_name: str
    """The MutatingAdmissionPolicy's name."""
    params_namespace: str
    """The namespace of the parameter ConfigMap."""

    def __init__(self, name: str, args: SigsciInjectionArgs, opts: Optional[pulumi.ResourceOptions] = None):
        prefix = check_call("SigsciInjection", name, args, opts, SigsciInjectionArgs)
        secret_name = check_secret_name(args.get("secret_name"), f"{prefix}.secret_name")
        settings = {k: v for k, v in args.items() if k not in NOT_SETTINGS}
        # Namespaces select pods and name the parameters' place at preview: every setting is plain.
        refuse_outputs(settings, prefix)
        resolved = resolve_injection(plain_values(settings), AgentSettings(), prefix, snake=True)
        for namespace in resolved.spec.namespaces:
            check_secret_reaches(secret_name, namespace, f"{prefix}.secret_name")
        super().__init__(_TYPE, name, None, opts)
        self._declare(name, prefix, resolved, secret_name, opts)

    @classmethod
    def from_resolved(cls, name: str, injection: ResolvedInjection, secret_name: Any,
                      opts: Optional[pulumi.ResourceOptions] = None) -> "SigsciInjection":
        """The component for injection the resolve stage has already checked and built (the stack program's way
        in: errors then name the stack config keys)."""
        self = registered(cls, _TYPE, name, opts)
        self._declare(name, f"SigsciInjection '{name}'", injection, secret_name, opts)
        return self

    def _declare(self, name: str, prefix: str, resolved: ResolvedInjection, secret_name: Any,
                 opts: Optional[pulumi.ResourceOptions]) -> None:
        bindings = {SECRET_NAME: secret_name, ADMISSION_API: self._checked_api(resolved)}
        depends_on = list(opts.depends_on or []) if opts is not None and opts.depends_on else []
        # In order (and deleted in reverse): the parameters, the guard, then the policy, so that no labelled pod
        # is admitted without an agent while they come and go.
        earlier: list[pulumi.Resource] = list(depends_on)
        for obj in resolved.objects:
            child = pulumi.ResourceOptions(parent=self, depends_on=list(earlier))
            earlier.append(declare(f"{name}-{obj['kind'].lower()}", obj, child, bindings))
        for warning in resolved.warnings:
            pulumi.log.warn(f"{prefix}: {warning}", resource=self)
        self.policy_name = POLICY_NAME
        self.params_namespace = resolved.spec.params_namespace
        self.register_outputs({"policyName": self.policy_name, "paramsNamespace": self.params_namespace})

    def _checked_api(self, resolved: ResolvedInjection) -> pulumi.Output:
        """The cluster's served kinds, read through the provider every preview, checked."""
        key = resolved.key

        def warn(message: str) -> None:
            pulumi.log.warn(message, resource=self)

        report_once()
        rendered = pulumi.runtime.invoke_output(TEMPLATE_CALL, template_args(),
                                                opts=pulumi.InvokeOutputOptions(parent=self))
        return rendered.apply(lambda result: check_served(result, key, warn))
