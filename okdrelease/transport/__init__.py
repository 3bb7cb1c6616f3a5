"""Transports: one repository interface over registries (HTTP API) and OCI image layouts."""
