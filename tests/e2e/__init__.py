"""End-to-end tests: the real server, the CLI and the real node oidc-provider together."""
