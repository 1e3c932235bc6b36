"""The errors the bot understands: bad configuration, and the four ways a publication can fail."""

from __future__ import annotations


class AnnounceBotError(Exception):
    """Base of every error the bot raises on purpose."""


class ConfigError(AnnounceBotError):
    """A config, event or template file is wrong: names the file, the field and what is wrong."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"{self.source}: {self.problems[0]}"
        return f"{self.source}:\n" + "\n".join(f"  - {p}" for p in self.problems)


class ClaimLost(AnnounceBotError):
    """Another sender took over this post's claim (a replica judged ours stale): we must not send it."""


class FitError(AnnounceBotError):
    """A rendered post cannot be fitted to a platform's limits by the declared rule."""


class PublishError(AnnounceBotError):
    """Publishing failed. Messages are in plain words and never carry credentials."""

    retryable = False


class RateLimited(PublishError):
    """The platform asked us to wait `retry_after` seconds."""

    retryable = True

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(PublishError):
    """Worth retrying later, and safe to: the request never left (connection refused, connect timeout), the
    platform answered 5xx, or it deduplicates a repeat (VK's guid)."""

    retryable = True


class OutcomeUnknown(TransientError):
    """The request may have reached the platform but no answer came back (the connection dropped, was reset
    or timed out after the request was sent): the post may or may not be published. Retrying could publish
    it twice, so it is reported unless the campaign step says to re-send."""


class PermanentError(PublishError):
    """The platform refused this post (too long, duplicate, forbidden): retrying will not help."""


class CredentialsError(PublishError):
    """The token is revoked or lacks rights: stop this platform and tell the organiser."""
