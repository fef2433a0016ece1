"""One pipeline per command: analyze, compare (drift), gaussian."""
