"""No Ingress of another class than the WAF controller's to a Service whose only inspection is the WAF, and no other
controller claiming the WAF controller's class."""

from __future__ import annotations

from .common import UNKNOWN, Report, _get, _ns, _same_namespace
from .routes import WafRoutes, _ingress_backends, _ingress_class, class_claims
from .stack import _resources


def validate_no_bypass_ingress(args, report_violation: Report) -> None:
    """No Ingress outside the WAF controller's class routes to a Service whose only inspection is the WAF:
    the upstream Service of agents placed as their own Service, or a Service the WAF routes to (through the WAF
    controller, or an HTTPRoute on a Gateway the WAF covers). No controller release other than a WAF controller's
    serves a WAF class or controller value, and no IngressClass of the stack takes a WAF class's name or value."""
    resources = _resources(args)
    waf = WafRoutes(resources)
    classes = ", ".join(repr(c) for c in sorted(waf.classes.names))
    for resource, claim in class_claims(resources, waf.classes):
        if resource.kind == "IngressClass":
            what = (f"an IngressClass the stack declares, {claim}, beside the WAF controller's (classes {classes}): "
                    "whichever controller it names serves that class's Ingresses, and one that is not the WAF "
                    "controller passes them uninspected; let the WAF controller's release create its IngressClass")
        else:
            what = (f"an ingress controller without the WAF module that serves {claim} of the WAF controller's "
                    f"(classes {classes}): it serves the WAF's Ingresses too, uninspected, beside the WAF "
                    "controller; give it a class name and controller value of its own")
        report_violation(f"{resource.who}: {what}", resource.urn)
    ingresses = [r for r in resources if r.kind == "Ingress"]
    for ingress in ingresses:
        if UNKNOWN in (_get(ingress.props, "spec", "ingressClassName"),
                       _get(ingress.props, "metadata", "annotations", "kubernetes.io/ingress.class")):
            continue  # decided during the update, when the class is known
        cls = _ingress_class(ingress)
        original = None
        if ingress.patch:
            original = next((i for i in ingresses if not i.patch and i.object_name == ingress.object_name
                             and _same_namespace(i.namespace, ingress.namespace)), None)
            if cls is None and original is not None:
                cls = _ingress_class(original)
        if waf.classes.inspects(cls):
            continue
        backends = _ingress_backends(ingress) + (_ingress_backends(original) if original is not None else [])
        shown_class = f"class {cls!r}" if cls else "no class"
        classes = ", ".join(repr(c) for c in sorted(waf.classes.names)) or "none in this stack"
        done: set[str] = set()
        for service, where in backends:
            if service in done:
                continue
            reason = waf.bypass(ingress.namespace, service, original)
            if reason is not None:
                done.add(service)
                report_violation(f"{ingress.who}: Ingress of {shown_class} (the WAF controller's: {classes}) sends "
                                 f"{where} straight to Service {_ns(ingress.namespace)}/{service}, {reason}; set "
                                 "ingressClassName to the WAF controller's class", ingress.urn)
