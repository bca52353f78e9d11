"""The echo backend of `sigsci:verify`."""
