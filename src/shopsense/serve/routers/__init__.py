"""The /v1 routers: thin, they parse, check scopes and call the services."""
