"""YAML batch runs: read and validate the config, resolve its jobs, run them."""
