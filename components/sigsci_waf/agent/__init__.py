"""The shared agent core: the one agent container builder, its option catalogue, and the pod and workload
shapes (security contexts, probes, resources, Deployment, Service...) every shape is made of."""
