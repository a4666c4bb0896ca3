"""The two ways a target fails: it cannot start or be reached, or it cannot run a configuration."""


class TargetError(RuntimeError):
    """A target could not be started or reached (the harness's fault or the setup's)."""


class ConfigUnsupported(TargetError):
    """This implementation (or this way of reaching it) cannot provide the configuration."""
