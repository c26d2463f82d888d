"""Typed SSH failures, so callers can tell a link that may come back from one that never will."""

from __future__ import annotations

from console.transport.base import TransportError


class SshError(TransportError):
    """An SSH connection failed. ``retryable`` says whether trying again later may help."""

    retryable = True


class SshAuthError(SshError):
    """The device refused every way of logging in we had; retrying the same way cannot help."""

    retryable = False


class SshConfigError(SshError):
    """The device's SSH settings are ambiguous or unusable; fix them, then connect again."""

    retryable = False


class RuntimeNotFound(SshError):
    """The device has no ``edge-runtime`` where we looked; installing it is the fix."""

    retryable = False
