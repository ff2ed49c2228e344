"""Operation: the CLI, the systemd unit, packaging scripts and benchmarks."""
