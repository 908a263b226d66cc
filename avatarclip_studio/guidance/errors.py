"""Errors and warnings of the guidance models."""

from __future__ import annotations


class GuidanceUnavailable(RuntimeError):
    """A guidance model cannot be loaded; the message says which file to put where."""


class PromptTruncatedWarning(UserWarning):
    """A prompt is longer than the text encoder's context and was cut."""
