"""Agents added at admission to pods that ask for one by label: a MutatingAdmissionPolicy builds the module
shape into each pod, a ValidatingAdmissionPolicy refuses a labelled pod that came out without it."""
