"""Downloading one file: retries on transient failures, md5 or sha256 check, atomic final name.

The file is streamed into a hidden temporary sibling and renamed to its final name only when
complete and (when a checksum is known) verified, so an interrupted or corrupt download never
looks finished. All attempts together have a time limit (``max_seconds``), so a server that
trickles its bytes cannot keep a download alive forever; the bytes are capped at the size the
server declares and at ``max_bytes``, so an endless body cannot fill the disk; a missing
``file://`` file is not retried. Only ``https``, ``http`` and ``file`` URLs are fetched.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from kdseg.errors import KdsegError
from kdseg.runtime.atomic import atomic_path

log = logging.getLogger("kdseg")

CHUNK = 1 << 20
# HTTP statuses worth retrying: timeouts, rate limits and server-side failures.
TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}


class TransientError(Exception):
    """A failure that a later attempt may not see (network, 5xx)."""


SCHEMES = ("https", "http", "file")


def file_digest(path: str | Path, algorithm: str = "md5") -> str:
    """Hex digest (``md5`` or ``sha256``) of a file."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def md5sum(path: str | Path) -> str:
    """Hex md5 of a file."""
    return file_digest(path, "md5")


def pinned(md5: str | None = None, sha256: str | None = None) -> tuple[str, str] | None:
    """The digest a file is checked with: (algorithm, lower-case hex), sha256 first."""
    for algorithm, value in (("sha256", sha256), ("md5", md5)):
        if value:
            return algorithm, value.lower()
    return None


def check_scheme(url: str) -> None:
    """Refuse a URL whose scheme is not https, http or file (ftp://, data:, ...)."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise KdsegError(
            f"{url}: URL scheme {scheme or 'none'!r} is not allowed (only {', '.join(SCHEMES)})"
        )


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to https and http only (urllib's own handler also follows ftp)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("https", "http"):
            raise KdsegError(
                f"{req.full_url}: redirected to {newurl}: URL scheme {scheme!r} is not allowed "
                "(only https, http)"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_Redirects)


class _Deadline:
    """The time left to all attempts of one download together."""

    def __init__(self, url: str, max_seconds: float) -> None:
        self.url, self.max_seconds = url, max_seconds
        self.end = time.monotonic() + max_seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def check(self, why: object = "") -> None:
        """Stop, for good, once the time is up."""
        if self.left() <= 0:
            self.expired(why)

    def expired(self, why: object = "") -> None:
        last = f"; last: {why}" if why else ""
        raise KdsegError(
            f"{self.url}: not complete within {self.max_seconds:g} s (download.max_seconds), "
            f"all attempts together{last}; nothing was kept"
        )


def _local_failure(url: str, err: urllib.error.URLError) -> KdsegError:
    """A ``file://`` URL that cannot be read: a missing file does not come back by retrying."""
    path = urllib.request.url2pathname(urllib.parse.urlsplit(url).path)
    reason = err.reason
    what = "no such file" if isinstance(reason, FileNotFoundError) else "cannot be read"
    detail = getattr(reason, "strerror", None) or reason
    return KdsegError(f"{path}: {what} (from {url}: {detail}); a local file is not retried")


def _cap(url: str, declared: int, max_bytes: int) -> tuple[int, str]:
    """The most bytes a download may bring, and what says so; a declared size beyond
    ``max_bytes`` is refused before anything is read."""
    if declared > max_bytes:
        raise KdsegError(
            f"{url}: refused: the server declares {declared:,} bytes, more than "
            f"download.max_bytes = {max_bytes:,}; nothing was kept"
        )
    if declared:
        return declared, "the size the server declared"
    return max_bytes, f"download.max_bytes = {max_bytes:,}"


def _fetch(
    url: str, dest: Path, timeout: float, deadline: _Deadline, algorithm: str, max_bytes: int
) -> str:
    """Stream ``url`` into ``dest``; return its digest. Transient failures raise TransientError;
    more bytes than the server declared (or than ``max_bytes``) stop at once."""
    digest = hashlib.new(algorithm)
    try:
        wait = max(min(timeout, deadline.left()), 0.001)
        with _OPENER.open(url, timeout=wait) as response, open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            cap, why = _cap(url, total, max_bytes)
            done, next_report = 0, 0.0
            # read1: what has arrived, so that a trickle is checked against the deadline
            while block := response.read1(CHUNK):
                deadline.check()
                done += len(block)
                if done > cap:
                    raise KdsegError(
                        f"{url}: refused: more than {cap:,} bytes arrived ({why}); nothing was kept"
                    )
                out.write(block)
                digest.update(block)
                if total and done / total >= next_report:
                    log.info("%s: %.0f%% of %.1f MB", dest.name, 100 * done / total, total / 1e6)
                    next_report += 0.1
            if total and done != total:
                raise TransientError(f"connection closed after {done} of {total} bytes")
    except urllib.error.HTTPError as err:
        if err.code in TRANSIENT_HTTP:
            raise TransientError(f"HTTP {err.code} {err.reason}") from err
        raise KdsegError(f"{url}: HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        if urllib.parse.urlsplit(url).scheme == "file":
            raise _local_failure(url, err) from err
        raise TransientError(str(err.reason)) from err
    except (TimeoutError, ConnectionError, http.client.HTTPException) as err:
        raise TransientError(str(err) or type(err).__name__) from err
    return digest.hexdigest()


def download(
    url: str,
    dest: str | Path,
    md5: str | None = None,
    retries: int = 3,
    backoff_s: float = 5.0,
    timeout_s: float = 60.0,
    max_seconds: float = 86400.0,
    sha256: str | None = None,
    max_bytes: int = 64 << 30,
) -> Path:
    """Download ``url`` to ``dest`` (atomically), checking ``sha256`` (or else ``md5``) when
    given.

    Network errors and HTTP 408/429/5xx are retried ``retries`` times with exponential backoff
    (``backoff_s``, 2x, 4x, ...); a checksum mismatch, another HTTP error, a missing local file,
    more bytes than declared or than ``max_bytes``, a scheme other than https/http/file, or
    ``max_seconds`` spent on all attempts together stops at once.
    """
    check_scheme(url)
    dest = Path(dest)
    deadline = _Deadline(url, max_seconds)
    algorithm, expected = pinned(md5, sha256) or ("md5", "")
    for attempt in range(retries + 1):
        try:
            with atomic_path(dest, suffix=".part") as tmp:
                log.info("downloading %s -> %s (attempt %d)", url, dest, attempt + 1)
                got = _fetch(url, tmp, timeout_s, deadline, algorithm, max_bytes)
                if expected and got != expected:
                    raise KdsegError(
                        f"{url}: {algorithm} {got} does not match the published {expected}; "
                        f"nothing was kept (a corrupt or changed file: try again later)"
                    )
            log.info("%s: complete%s", dest, f", {algorithm} verified" if expected else "")
            return dest
        except TransientError as err:
            deadline.check(err)
            if attempt == retries:
                tries = retries + 1
                raise KdsegError(f"{url}: download failed after {tries} attempts ({err})") from err
            wait = backoff_s * 2**attempt
            if wait >= deadline.left():
                deadline.expired(err)
            log.warning("%s: %s; retrying in %.0f s", url, err, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")
