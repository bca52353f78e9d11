"""The ingress shape: an NGINX ingress controller with the Fastly module, installed with Helm."""
