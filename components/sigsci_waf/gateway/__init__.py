"""The gateway shape: the WAF on Gateway API, the agents as Envoy's external processor."""
