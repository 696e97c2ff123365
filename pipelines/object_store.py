"""The warehouse's object store (``VOLSIGNALS_WAREHOUSE=s3://bucket/prefix``): a few calls over obstore.

Why a wrapper this small. The warehouse needs six operations from S3 — get, conditional get,
put, put-if-absent, put-if-unchanged, list and delete — and two of them carry its
correctness: a create-only PUT (``If-None-Match: *``) makes the writer lease exclusive,
and a PUT conditional on the manifest's ETag (``If-Match``) makes publishing a
compare-and-swap, so two writers can never both publish from the same state. obstore
(Rust's ``object_store``) sends both headers; S3 itself, MinIO and moto's server honour
them (tests/test_object_storage.py checks the server it runs on).

Configuration is the standard AWS environment, read by obstore itself, so the same
variables serve the AWS CLI and boto3: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_REGION`` (or ``AWS_DEFAULT_REGION``), and for an S3-compatible server
``AWS_ENDPOINT_URL`` (e.g. ``http://127.0.0.1:9000``) with ``AWS_ALLOW_HTTP=true`` when it
speaks plain HTTP.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import obstore
from obstore.exceptions import AlreadyExistsError, NotModifiedError, PreconditionError
from obstore.store import S3Store

__all__ = ["AlreadyExistsError", "PreconditionError", "Lease", "LeaseBusy", "LeaseLost", "Remote", "is_remote", "parallel",
           "split_url"]

#: Parallel transfers when a cache fetches or a writer uploads many partition files.
TRANSFERS = 16


def is_remote(root: object) -> bool:
    """Whether a warehouse root names an object store (``s3://``) rather than a folder."""
    return isinstance(root, str) and root.startswith("s3://")


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")`` (prefix without slashes at the ends)."""
    if not is_remote(url):
        raise ValueError(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {url!r}")
    return bucket, prefix.strip("/")


@dataclass(frozen=True)
class Blob:
    """An object's bytes and the ETag they had (what a conditional PUT compares against)."""

    data: bytes
    etag: str


class Remote:
    """One warehouse's objects: keys are relative to ``s3://bucket/prefix``."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.bucket, self.prefix = split_url(url)
        self._store = S3Store(self.bucket, prefix=self.prefix or None)

    def get(self, key: str, if_none_match: str | None = None) -> Blob | None:
        """The object at ``key`` (FileNotFoundError when absent); None when its ETag is still ``if_none_match``."""
        try:
            result = obstore.get(self._store, key, options={"if_none_match": if_none_match} if if_none_match else None)
        except NotModifiedError:
            return None
        return Blob(bytes(result.bytes()), result.meta["e_tag"] or "")

    def put(self, key: str, data: bytes | Path) -> None:
        """Write ``key`` whatever was there (a file is sent in parts when large)."""
        obstore.put(self._store, key, data)

    def put_if_absent(self, key: str, data: bytes) -> str:
        """Create ``key``; AlreadyExistsError when it exists. Returns the new ETag."""
        return obstore.put(self._store, key, data, mode="create", use_multipart=False)["e_tag"] or ""

    def put_if_match(self, key: str, data: bytes, etag: str) -> str:
        """Replace ``key`` only if its ETag is still ``etag``; PreconditionError otherwise. Returns the new ETag."""
        return obstore.put(self._store, key, data, mode={"e_tag": etag}, use_multipart=False)["e_tag"] or ""

    def delete(self, keys: Sequence[str]) -> None:
        """Delete ``keys`` (absent ones are fine)."""
        if keys:
            obstore.delete(self._store, list(keys))

    def keys(self, prefix: str | None = None) -> list[str]:
        """Every key under ``prefix`` (relative to the warehouse prefix)."""
        return [meta["path"] for batch in obstore.list(self._store, prefix) for meta in batch]

    def download(self, pairs: Iterable[tuple[str, Path]], scratch: Path) -> None:
        """Fetch each key to its path, in parallel; a path appears whole or not at all.

        Each object is written to ``scratch`` (same file system) and renamed into place,
        so a process reading the cache at the same time never sees half a file."""
        pairs = list(pairs)
        if not pairs:
            return
        scratch.mkdir(parents=True, exist_ok=True)

        def fetch(pair: tuple[str, Path]) -> None:
            key, path = pair
            blob = self.get(key)
            assert blob is not None
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=scratch, prefix=path.name)
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob.data)
            os.replace(tmp, path)

        parallel(fetch, pairs)

    def upload_new(self, pairs: Iterable[tuple[Path, str]]) -> None:
        """Upload immutable files (versioned names): create-only, an existing object is the same file."""

        def send(pair: tuple[Path, str]) -> None:
            path, key = pair
            try:
                self.put_if_absent(key, path.read_bytes())
            except AlreadyExistsError:
                pass

        parallel(send, list(pairs))


def parallel(work: Callable[[Any], object], items: list) -> None:
    """Run ``work`` over ``items`` on up to ``TRANSFERS`` threads (obstore's transfers,
    fsync and mkdir release the GIL); errors propagate. ``work`` must not call ``parallel``
    itself (the threads are shared)."""
    if len(items) <= 1:
        for item in items:
            work(item)
        return
    list(_pool().map(work, items))


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """One pool for the process: starting threads per call cost ~5 ms for a 40-session
    file's flushes. A forked child starts its own (the parent's threads are not in it)."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(TRANSFERS, thread_name_prefix="volsignals-io")
    return _POOL


def _forget_pool() -> None:
    global _POOL
    _POOL = None


os.register_at_fork(after_in_child=_forget_pool)


# ---------------------------------------------------------------------------- the writer lease
#: The lease object: whoever created it (or took it over once it expired) is the one writer.
LEASE_KEY = "_writer.lease"
#: How long a lease lasts without renewal; the holder renews it every third of this.
LEASE_SECONDS_ENV = "VOLSIGNALS_LEASE_SECONDS"
#: How long a blocking writer waits for another machine's lease before failing.
LEASE_WAIT_ENV = "VOLSIGNALS_LEASE_WAIT"


class LeaseBusy(RuntimeError):
    """Another writer holds the lease and did not release it within the wait."""


class LeaseLost(RuntimeError):
    """This writer's lease expired and was taken over: its write must publish nothing."""


def _lease_body(owner: str, seconds: float) -> bytes:
    return json.dumps({"owner": owner, "expires": time.time() + seconds}).encode()


class Lease:
    """An exclusive, expiring writer lease on one warehouse, held by renewing it.

    Why a lease and not a lock file: an object store has no advisory locks, and a writer
    that dies must not block the warehouse for ever. Creating the lease object is a
    create-only PUT, so exactly one writer succeeds; an expired lease (its holder died or
    stalled past ``expires``) is taken over by a PUT conditional on the ETag that was read,
    so of two writers taking it over exactly one succeeds too. The holder renews it on a
    thread (conditional PUTs again): a holder that finds it taken over knows it lost the
    lease. Release is one more conditional PUT that marks it expired (never an unconditional
    DELETE, which could remove a successor's lease). Expiry compares the holder's clock with
    the taker's, so machines' clocks must agree to well within ``seconds``."""

    def __init__(self, remote: Remote, seconds: float | None = None, wait: float | None = None) -> None:
        self.remote = remote
        self.seconds = seconds if seconds is not None else float(os.environ.get(LEASE_SECONDS_ENV, "60"))
        self.wait = wait if wait is not None else float(os.environ.get(LEASE_WAIT_ENV, "1800"))
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._etag: str | None = None
        self._lost = False
        self._expires = 0.0  # when the lease last written by this holder runs out (its clock)
        self._stop = threading.Event()
        self._renewing = threading.Lock()  # one conditional PUT at a time (each needs the last ETag)
        self._renewer: threading.Thread | None = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lease (waiting up to ``wait`` seconds when ``blocking``); False when busy and not blocking."""
        deadline = time.monotonic() + self.wait
        while True:
            holder = self._try_once()
            if holder is None:
                self._renewer = threading.Thread(target=self._renew, name="volsignals-lease", daemon=True)
                self._renewer.start()
                return True
            if not blocking:
                return False
            if time.monotonic() >= deadline:
                raise LeaseBusy(f"{self.remote.url}: the writer lease is held by {holder.get('owner')} "
                                f"until {time.ctime(holder.get('expires', 0))} (waited {self.wait:.0f} s; "
                                f"{LEASE_WAIT_ENV} sets the wait)")
            time.sleep(min(0.5, self.seconds / 10))

    def _try_once(self) -> dict | None:
        """One attempt: None when the lease is now ours, else the current holder's record."""
        expires = time.time() + self.seconds
        try:
            self._etag = self.remote.put_if_absent(LEASE_KEY, _lease_body(self.owner, self.seconds))
            self._expires = expires
            return None
        except AlreadyExistsError:
            pass
        try:
            current = self.remote.get(LEASE_KEY)
        except FileNotFoundError:  # released and deleted in between: try again
            return {"owner": "(released)", "expires": 0}
        assert current is not None
        holder = json.loads(current.data)
        if holder.get("expires", 0) >= time.time():
            return holder
        try:  # expired: take it over, unless somebody else did first
            self._etag = self.remote.put_if_match(LEASE_KEY, _lease_body(self.owner, self.seconds), current.etag)
            self._expires = expires
            return None
        except (PreconditionError, FileNotFoundError):
            return holder

    def _renew(self) -> None:
        """Extend the lease every third of its length until released, or until it is lost."""
        while not self._stop.wait(self.seconds / 3):
            try:
                self.renew()
            except LeaseLost:
                return
            except Exception:  # a network error: try again next time; expiry decides
                continue

    def renew(self) -> None:
        """Extend the lease now, if it is still ours (a conditional PUT); LeaseLost when it is not."""
        with self._renewing:
            expires = time.time() + self.seconds
            if self._lost or time.time() >= self._expires:
                self._lost = True
            else:
                try:
                    self._etag = self.remote.put_if_match(LEASE_KEY, _lease_body(self.owner, self.seconds),
                                                          self._etag or "")
                    self._expires = expires
                except (PreconditionError, FileNotFoundError):
                    self._lost = True
            if self._lost:
                raise LeaseLost(f"{self.remote.url}: the writer lease of {self.owner} ran out and was taken over")

    def check(self) -> None:
        """Before publishing: renew once more, so a writer that lost the lease publishes nothing
        (and one that kept it has a full lease length to publish in)."""
        self.renew()

    def release(self) -> None:
        """Stop renewing and mark the lease expired (conditionally: only if it is still ours)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        if self._lost or self._etag is None:
            return
        try:
            self.remote.put_if_match(LEASE_KEY, _lease_body(self.owner, -1.0), self._etag)
        except (PreconditionError, FileNotFoundError):
            pass
        self._etag = None
