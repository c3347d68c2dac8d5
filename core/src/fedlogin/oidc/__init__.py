"""The OpenID Connect relying party, without the web."""
