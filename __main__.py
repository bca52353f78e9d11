"""Pulumi entry point: one stack per environment, configured under `sigsci:` in stacks/Pulumi.<stack>.yaml."""

from sigsci_waf.program import main

main()
