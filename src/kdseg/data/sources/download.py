"""Downloading one file: retries on transient failures, md5 check, atomic final name.

The file is streamed into a hidden temporary sibling and renamed to its final name only when
complete and (when a checksum is known) verified, so an interrupted or corrupt download never
looks finished.
"""

from __future__ import annotations

import hashlib
import logging
import time
import urllib.error
import urllib.request
from pathlib import Path

from kdseg.atomic import atomic_path
from kdseg.errors import KdsegError

log = logging.getLogger("kdseg")

CHUNK = 1 << 20
# HTTP statuses worth retrying: timeouts, rate limits and server-side failures.
TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}


class TransientError(Exception):
    """A failure that a later attempt may not see (network, 5xx)."""


def md5sum(path: str | Path) -> str:
    """Hex md5 of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url: str, dest: Path, timeout: float) -> str:
    """Stream ``url`` into ``dest``; return its md5. Transient failures raise TransientError."""
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done, next_report = 0, 0.0
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                digest.update(block)
                done += len(block)
                if total and done / total >= next_report:
                    log.info("%s: %.0f%% of %.1f MB", dest.name, 100 * done / total, total / 1e6)
                    next_report += 0.1
            if total and done != total:
                raise TransientError(f"connection closed after {done} of {total} bytes")
    except urllib.error.HTTPError as err:
        if err.code in TRANSIENT_HTTP:
            raise TransientError(f"HTTP {err.code} {err.reason}") from err
        raise KdsegError(f"{url}: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        raise TransientError(str(getattr(err, "reason", err))) from err
    return digest.hexdigest()


def download(
    url: str,
    dest: str | Path,
    md5: str | None = None,
    retries: int = 3,
    backoff_s: float = 5.0,
    timeout_s: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` (atomically), checking ``md5`` when given.

    Network errors and HTTP 408/429/5xx are retried ``retries`` times with exponential backoff
    (``backoff_s``, 2x, 4x, ...); a checksum mismatch or another HTTP error stops at once.
    """
    dest = Path(dest)
    for attempt in range(retries + 1):
        try:
            with atomic_path(dest, suffix=".part") as tmp:
                log.info("downloading %s -> %s (attempt %d)", url, dest, attempt + 1)
                got = _fetch(url, tmp, timeout_s)
                if md5 and got != md5.lower():
                    raise KdsegError(
                        f"{url}: md5 {got} does not match the published {md5}; "
                        f"nothing was kept (a corrupt or changed file: try again later)"
                    )
            log.info("%s: complete%s", dest, ", md5 verified" if md5 else "")
            return dest
        except TransientError as err:
            if attempt == retries:
                tries = retries + 1
                raise KdsegError(f"{url}: download failed after {tries} attempts ({err})") from err
            wait = backoff_s * 2**attempt
            log.warning("%s: %s; retrying in %.0f s", url, err, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")
