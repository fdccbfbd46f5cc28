"""File stores for attachments (K-ATT): the local filesystem or S3 (boto3, imported lazily).

Paths are relative, ``/``-separated, made of safe segments only (``[A-Za-z0-9._-]``, no
``..``); a store never reads or writes outside its root.
"""

from __future__ import annotations

import abc
import asyncio
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from kintogql.errors import invalid

_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def check_path(path: str) -> str:
    """``path`` when every segment is safe, else a 400."""
    segments = path.split("/")
    if not path or not all(_SEGMENT_RE.match(s) and ".." not in s for s in segments):
        raise invalid("path", None, "Invalid file path")
    return path


class FileStore(abc.ABC):
    """Where attachment files live. Every method may raise ``OSError`` on failure."""

    @abc.abstractmethod
    async def save(self, path: str, content: bytes, mimetype: str) -> None:
        """Store ``content`` at ``path`` (replacing it), atomically: readers see the old
        file or the new one, never a partial one."""

    @abc.abstractmethod
    async def read(self, path: str) -> bytes | None:
        """The content at ``path``, or None when there is no such file."""

    @abc.abstractmethod
    async def delete(self, path: str) -> None:
        """Remove the file at ``path``; a missing file is not an error."""

    @abc.abstractmethod
    async def delete_prefix(self, prefix: str) -> None:
        """Remove every file under the folder ``prefix`` (cascades of collections/buckets)."""

    @abc.abstractmethod
    async def heartbeat(self) -> bool:
        """True when the store is reachable and writable."""


class LocalFileStore(FileStore):
    def __init__(self, root: str) -> None:
        self.root = Path(root).resolve()

    def _resolve(self, path: str) -> Path:
        target = (self.root / check_path(path)).resolve()
        if not target.is_relative_to(self.root) or target == self.root:
            raise invalid("path", None, "Invalid file path")
        return target

    def _save(self, target: Path, content: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    async def save(self, path: str, content: bytes, mimetype: str) -> None:
        await asyncio.to_thread(self._save, self._resolve(path), content)

    async def read(self, path: str) -> bytes | None:
        target = self._resolve(path)

        def load() -> bytes | None:
            try:
                return target.read_bytes() if target.is_file() else None
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(load)

    async def delete(self, path: str) -> None:
        await asyncio.to_thread(self._resolve(path).unlink, missing_ok=True)

    async def delete_prefix(self, prefix: str) -> None:
        target = self._resolve(prefix.rstrip("/"))
        await asyncio.to_thread(shutil.rmtree, target, ignore_errors=True)

    async def heartbeat(self) -> bool:
        def probe() -> bool:
            self.root.mkdir(parents=True, exist_ok=True)
            marker = self.root / f".heartbeat-{uuid.uuid4().hex}"
            marker.write_bytes(b"")
            marker.unlink()
            return True

        return await asyncio.to_thread(probe)


class S3FileStore(FileStore):
    """Files as objects of one S3 bucket, under an optional key prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        try:
            import boto3  # type: ignore[import-not-found]
        except ImportError as exc:  # boto3 is optional
            raise RuntimeError("S3 attachments need boto3 (pip install boto3)") from exc
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def _key(self, path: str) -> str:
        check_path(path.rstrip("/"))
        return f"{self.prefix}/{path}" if self.prefix else path

    async def save(self, path: str, content: bytes, mimetype: str) -> None:
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self.bucket,
            Key=self._key(path),
            Body=content,
            ContentType=mimetype,
        )

    async def read(self, path: str) -> bytes | None:
        def load() -> bytes | None:
            try:
                found = self._client.get_object(Bucket=self.bucket, Key=self._key(path))
            except self._client.exceptions.NoSuchKey:
                return None
            body: bytes = found["Body"].read()
            return body

        return await asyncio.to_thread(load)

    async def delete(self, path: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=self._key(path))

    async def delete_prefix(self, prefix: str) -> None:
        key_prefix = self._key(prefix.rstrip("/")) + "/"

        def purge() -> None:
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=key_prefix):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

        await asyncio.to_thread(purge)

    async def heartbeat(self) -> bool:
        await asyncio.to_thread(self._client.head_bucket, Bucket=self.bucket)
        return True


def create_file_store(settings_get: Any) -> FileStore:
    """From ``attachment.*`` settings: ``attachment.aws.bucket_name`` selects S3, else the
    local ``attachment.base_path``."""
    bucket = settings_get("attachment.aws.bucket_name")
    if bucket:
        return S3FileStore(
            str(bucket),
            str(settings_get("attachment.folder", "") or ""),
            endpoint_url=settings_get("attachment.aws.endpoint_url"),
            region=settings_get("attachment.aws.region_name"),
        )
    base_path = settings_get("attachment.base_path") or os.path.join(
        tempfile.gettempdir(), "kintogql-attachments"
    )
    return LocalFileStore(str(base_path))
