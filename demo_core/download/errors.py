"""What can go wrong with a download, each with a message a student can act on.

The UI and the CLI print ``str(error)`` as is, so every message says what happened *and*
what to do next; nothing here is meant to surface as a traceback.
"""

from __future__ import annotations


class DownloadError(RuntimeError):
    """Base class: the download did not finish; ``str()`` is the user-facing message."""


class EndpointUnreachable(DownloadError):
    """No answer from the endpoint within the timeout (offline, firewall, wrong URL)."""


class NotFound(DownloadError):
    """The repository, revision or file does not exist on that endpoint."""


class AccessDenied(DownloadError):
    """401/403: a gated or private repository, and no (or a wrong) token."""


class NotEnoughDiskSpace(DownloadError):
    """Checked before the first byte is written, so no half model is left behind; also
    raised when the disk fills up anyway (another program wrote), keeping the partial."""


class BadDestination(DownloadError):
    """The destination is a file, not writable, or cannot be created."""


class CorruptFile(DownloadError):
    """Size or checksum of a finished file differs from what the hub announced."""


class Cancelled(DownloadError):
    """The user pressed Cancel; partial files are kept so the next run resumes."""
