"""Subcommands of ``gearcheck``: one module each, with ``register(subparsers)``."""
