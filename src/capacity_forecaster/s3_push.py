"""Upload the local raw data contract to s3://<bucket>/<prefix>/, idempotently.

* Credentials: the standard boto3 chain (env vars, AWS_PROFILE / `aws_profile`, instance role).
* Each object carries its SHA-256 in metadata; a re-run skips objects whose size and checksum
  already match, so an interrupted push is finished by running it again.
* Large files go multipart (boto3 TransferConfig); abandoned multipart uploads under the
  prefix are aborted so they do not accrue storage.
* After upload the prefix is listed and object count and bytes are verified.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from capacity_forecaster.checksums import sha256_file
from capacity_forecaster.config import validate_bucket, validate_prefix

CHECKSUM_KEY = "sha256"
MULTIPART_THRESHOLD = 16 * 1024 * 1024


class PushError(RuntimeError):
    """The push could not complete; the message says why and what to do."""


@dataclass
class PushResult:
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    extraneous: list[str] = field(default_factory=list)
    objects_verified: int = 0
    bytes_verified: int = 0


def _local_files(root: Path) -> Iterator[tuple[Path, str]]:
    for sub in ("metrics", "inventory"):
        for path in sorted((root / sub).rglob("*.parquet")):
            yield path, path.relative_to(root).as_posix()


def make_client(
    profile: str | None = None,
    endpoint_url: str | None = None,
    max_attempts: int = 5,
    read_timeout: float = 60,
):
    """An S3 client on the standard credential chain with bounded retries and timeouts."""
    try:
        session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    except ProfileNotFound as exc:
        raise PushError(f"AWS profile {profile!r} not found in ~/.aws/config") from exc
    config = Config(
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=5,
        read_timeout=read_timeout,
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def _explain(exc: Exception, bucket: str, endpoint_url: str | None) -> PushError:
    where = f"s3://{bucket}" + (f" at {endpoint_url}" if endpoint_url else "")
    if isinstance(exc, NoCredentialsError):
        return PushError(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE (or var aws_profile), or run on an instance with a role"
        )
    if isinstance(exc, EndpointConnectionError | ReadTimeoutError | ConnectTimeoutError):
        return PushError(f"cannot reach {where} after retries: {exc}")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket", "404"):
            return PushError(f"bucket {bucket!r} does not exist ({where}); create it first")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return PushError(f"access denied to {where} ({code}); check credentials and policy")
        return PushError(f"S3 error on {where}: {code or exc}")
    return PushError(f"S3 failure on {where}: {exc}")


def remote_index(client, bucket: str, prefix: str) -> dict[str, int]:
    """Key -> size of every object under `prefix/`."""
    index: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            index[obj["Key"]] = obj["Size"]
    return index


def abort_stale_multipart(client, bucket: str, prefix: str) -> int:
    aborted = 0
    response = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix + "/")
    for upload in response.get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        aborted += 1
    return aborted


@contextmanager
def explained_errors(bucket: str, prefix: str, endpoint_url: str | None) -> Iterator[None]:
    """Turn boto failures into one clear PushError line."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise _explain(exc, bucket, endpoint_url) from exc
    except S3UploadFailedError as exc:  # upload_file wraps the underlying failure
        cause = exc.__cause__ or exc.__context__
        raise (
            _explain(cause, bucket, endpoint_url)
            if isinstance(cause, ClientError | BotoCoreError)
            else PushError(f"upload to s3://{bucket}/{prefix} failed: {exc}")
        ) from exc


def upload_changed(
    client,
    bucket: str,
    files: Sequence[tuple[Path, str]],
    remote: Mapping[str, int],
    *,
    workers: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[str], list[str]]:
    """Upload (path, key) pairs whose object is missing or differs (size, then the SHA-256 kept
    in the object's metadata); return (uploaded, skipped) keys."""
    transfer = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, max_concurrency=4)
    uploaded: list[str] = []
    skipped: list[str] = []

    def push_one(item: tuple[Path, str]) -> tuple[str, bool]:
        path, key = item
        checksum = sha256_file(path)
        if remote.get(key) == path.stat().st_size:
            head = client.head_object(Bucket=bucket, Key=key)
            if head.get("Metadata", {}).get(CHECKSUM_KEY) == checksum:
                return key, False
        client.upload_file(
            str(path), bucket, key, Config=transfer, ExtraArgs={"Metadata": {CHECKSUM_KEY: checksum}}
        )
        return key, True

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, (key, was_uploaded) in enumerate(pool.map(push_one, files), start=1):
            (uploaded if was_uploaded else skipped).append(key)
            if progress:
                progress(done, len(files))
    return uploaded, skipped


def delete_keys(client, bucket: str, keys: Sequence[str]) -> None:
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch]})


def verify(expected: Mapping[str, int], remote: Mapping[str, int], where: str, rerun: str) -> tuple[int, int]:
    """Every expected key is there with its size; returns (objects, bytes) verified. `where`
    prefixes a key in the message (e.g. s3://bucket/)."""
    missing = [k for k, size in expected.items() if remote.get(k) != size]
    if missing:
        raise PushError(
            f"verification failed: {len(missing)} object(s) missing or of the wrong size, "
            f"e.g. {where}{missing[0]}; re-run {rerun} to complete"
        )
    return len(expected), sum(expected.values())


def push_dataset(
    local_root: Path,
    bucket: str,
    prefix: str,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    workers: int = 8,
    delete_extraneous: bool = False,
    max_attempts: int = 5,
    read_timeout: float = 60,
    progress: Callable[[int, int], None] | None = None,
) -> PushResult:
    """Upload `local_root`'s metrics/ and inventory/ Parquet files under s3://bucket/prefix/."""
    bucket, prefix = validate_bucket(bucket), validate_prefix(prefix)
    files = list(_local_files(local_root))
    if not files:
        raise PushError(f"nothing to push: no Parquet files under {local_root}/metrics or /inventory")
    client = make_client(
        profile, endpoint_url or os.environ.get("AWS_ENDPOINT_URL"), max_attempts, read_timeout
    )
    result = PushResult()
    keyed = [(path, f"{prefix}/{rel}") for path, rel in files]
    expected = {key: path.stat().st_size for path, key in keyed}
    with explained_errors(bucket, prefix, endpoint_url):
        client.head_bucket(Bucket=bucket)
        abort_stale_multipart(client, bucket, prefix)
        result.uploaded, result.skipped = upload_changed(
            client, bucket, keyed, remote_index(client, bucket, prefix), workers=workers, progress=progress
        )
        remote = remote_index(client, bucket, prefix)
        result.extraneous = sorted(k for k in remote if k not in expected)
        if delete_extraneous and result.extraneous:
            delete_keys(client, bucket, result.extraneous)
            result.extraneous = []
    result.objects_verified, result.bytes_verified = verify(expected, remote, f"s3://{bucket}/", "push")
    return result
