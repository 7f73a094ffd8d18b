"""Clients of the AWS services besides DynamoDB: S3 (migration sources, backups, report
copies), SES v2 (report e-mail) and Lambda (the API handing an import job to another
invocation of its own function), with the same credentials as the tables."""

from __future__ import annotations

from typing import Any

from backend.config import Settings, is_loopback_url


def make_aws_client(settings: Settings, service: str, endpoint: str | None) -> Any:
    """A client of ``service``; a loopback ``endpoint`` (moto, LocalStack) needs no keys."""
    import boto3  # noqa: PLC0415

    access, secret = settings.aws_access_key_id, settings.aws_secret_access_key
    if access is None and settings.aws_profile is None and endpoint and is_loopback_url(endpoint):
        access, secret = "local", "local"  # a local emulator accepts any signature
    session = boto3.session.Session(
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        aws_session_token=settings.aws_session_token,
        profile_name=settings.aws_profile,
        region_name=settings.region,
    )
    return session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]


def make_s3_client(settings: Settings) -> Any:
    """An S3 client honouring ``AWS_ENDPOINT_URL_S3``."""
    return make_aws_client(settings, "s3", settings.s3_endpoint_url)


def make_lambda_client(settings: Settings) -> Any:
    """A Lambda client (the API invokes its own function for import jobs)."""
    return make_aws_client(settings, "lambda", None)
