"""The config layer: what users may type (settings models with the rules inside one model), every closed
choice, Kubernetes' own rules as field types, errors that name the key, and reading stack config."""
