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
Messages never carry secrets.
"""

from __future__ import annotations


class HarborMirrorError(Exception):
    """Base of every expected failure."""

    exit_code = 1


class InputError(HarborMirrorError):
    """Bad input: the user has to change something before a retry can work."""

    exit_code = 2


class ConfigError(InputError):
    """An option, environment variable or config file value is missing or invalid."""


class ManifestError(InputError):
    """The rendered manifest stream cannot be read; names the document and line."""

    def __init__(self, problem: str, *, document: int | None = None, line: int | None = None):
        self.problem = problem
        self.document = document
        self.line = line
        where = []
        if document is not None:
            where.append(f"document {document}")
        if line is not None:
            where.append(f"line {line}")
        prefix = f"stdin {', '.join(where)}: " if where else "stdin: "
        super().__init__(prefix + problem)


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
