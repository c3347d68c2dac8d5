"""The Starlette host: admin console, login, account and JSON API routes."""
