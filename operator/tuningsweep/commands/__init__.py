"""One module per CLI subcommand; each returns the process exit status."""
