"""The one error tree; every failure a user can cause or meet is one of these.

    HarborMirrorError            exit 1, one line on stderr
    ├── InputError               exit 2: the user's input is wrong
    │   ├── ConfigError          options, environment, config file
    │   └── ManifestError        the rendered stream (document, line)
    ├── RewriteError             --strict: an upstream mention would remain
    ├── StaleOverlayError        overlay --check: the committed overlay no longer matches
    └── HarborError              Harbor could not do what was asked
        ├── HarborUnreachable    network, DNS, TLS, timeouts
        ├── HarborAPIError       Harbor answered with an error status
        ├── HarborResponseError  a success answer that is not what the API promises
        ├── HarborConflict       something of that name exists and cannot be converted
        ├── ReplicationFailed    a replication execution ended with failed tasks
        └── VerifyFailed         references that do not resolve through Harbor

Each error formats its own message, so the CLI boundary never needs to know its fields.
Messages never carry secrets: the boundary redacts every one (`redact`, below).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager


class HarborMirrorError(Exception):
    """Base of every expected failure."""

    exit_code = 1


class InputError(HarborMirrorError):
    """Bad input: the user has to change something before a retry can work."""

    exit_code = 2


class ConfigError(InputError):
    """An option, environment variable or config file value is missing or invalid."""


class ManifestError(InputError):
    """The rendered manifest stream cannot be read; names the stream, document and line."""

    def __init__(
        self, problem: str, *, document: int | None = None, line: int | None = None,
        source: str = "stdin",
    ):
        self.problem = problem
        self.document = document
        self.line = line
        where = []
        if document is not None:
            where.append(f"document {document}")
        if line is not None:
            where.append(f"line {line}")
        prefix = f"{source} {', '.join(where)}: " if where else f"{source}: "
        super().__init__(prefix + problem)


@contextmanager
def stream_from(source: str) -> Iterator[None]:
    """ManifestErrors raised inside name `source` (a file, helm's output) as the stream."""
    try:
        yield
    except ManifestError as error:
        raise ManifestError(error.problem, document=error.document, line=error.line,
                            source=source) from None


class RewriteError(HarborMirrorError):
    """--strict found upstream mentions that the rewrite rules leave in place."""


class StaleOverlayError(HarborMirrorError):
    """`overlay --check`: a fresh render gives a different overlay than the one on disk."""


class HarborError(HarborMirrorError):
    """Harbor could not be reached or refused a request."""


class HarborUnreachable(HarborError):
    """No HTTP answer from Harbor: connection, DNS, TLS or timeout."""


class HarborAPIError(HarborError):
    """Harbor answered with an error status; carries what finds it in Harbor's logs."""

    def __init__(
        self,
        status: int,
        method: str,
        path: str,
        detail: str,
        request_id: str | None = None,
        *,
        hint: str | None = None,
    ):
        self.status = status
        self.method = method
        self.path = path
        self.detail = detail
        self.request_id = request_id
        self.hint = hint
        rid = f" (X-Request-Id {request_id})" if request_id else ""
        advice = f": {hint}" if hint else ""
        super().__init__(f"Harbor refused {method} {path}: {status} {detail}{rid}{advice}")

    def with_hint(self, hint: str) -> HarborAPIError:
        """The same refusal, plus what the user can do about it."""
        return HarborAPIError(
            self.status, self.method, self.path, self.detail, self.request_id, hint=hint
        )


class HarborResponseError(HarborError):
    """Harbor (or whatever answers at that URL) sent a success status with an unusable body."""


class HarborConflict(HarborError):
    """Harbor already holds something of that name in a form it cannot be changed from."""


class ReplicationFailed(HarborError):
    """A replication execution finished with failed or stopped tasks; their logs were printed."""


class VerifyFailed(HarborError):
    """Some references would not pull through Harbor; the table or JSON already said which."""


# -- keeping secrets out of every message -----------------------------------------------------
# A server (or a proxy in front of it that echoes requests) can send back what we sent it: the
# admin's Basic credentials, the upstream token, a robot secret. Every secret the process holds
# is registered where it enters, and every message is redacted at the one place it is printed.

_SECRETS: set[str] = set()
_MIN_SECRET = 4  # shorter values would blank out ordinary words
# Credentials a server may echo in a shape we can recognise without knowing the value.
_CREDENTIAL_SHAPES = re.compile(
    r"(?i)\b((?:basic|bearer)\s+)[A-Za-z0-9+/=._~-]{8,}"
    r"|(\"?\b(?:password|secret|access_secret|token|access_token|refresh_token|auth)\"?\s*[:=]\s*)"
    r"(\"[^\"]*\"|[^\s,;&}\"]+)"
)


def keep_secret(value: str, *, username: str | None = None) -> str:
    """Register `value` (and, with `username`, its HTTP Basic form) for redaction; returns it."""
    if len(value) >= _MIN_SECRET:
        _SECRETS.add(value)
        if username is not None:
            import base64

            _SECRETS.add(base64.b64encode(f"{username}:{value}".encode()).decode("ascii"))
    return value


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def redact_server_text(text: str) -> str:
    """Text a server sent: registered secrets and anything shaped like a credential blanked,
    control characters shown rather than obeyed."""
    return shown_controls(_CREDENTIAL_SHAPES.sub(
        lambda m: f"{m.group(1)}***" if m.group(1) else f"{m.group(2)}***", redact(text)
    ))


# C0 and C1 control characters but newline and tab: ESC opens a terminal escape sequence and
# a carriage return rewrites the line, so text from elsewhere could hide or fake what we print.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shown_controls(text: str) -> str:
    """`text` with each control character but newline and tab written as `\\xNN`."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
