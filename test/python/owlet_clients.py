# How the tests reach a server: boto3, and the AWS CLI (v1) typed the way a user types it (one option per
# member, structures as JSON). Tests written against AthenaCaller run through both.
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Protocol

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
AWS_CLI = ROOT / '.venv' / 'bin' / 'aws'


def runtime_python(runtime: str = 'spark-3.5') -> Path:
    """The Python of a Spark runtime (scripts/install-runtimes.sh): its PySpark is the Spark Connect client and
    the Spark distribution of that engine version."""
    return ROOT / '.runtimes' / runtime / 'venv' / 'bin' / 'python'

ACCESS_KEY_ID = 'AKIDOWLETPYTEST00001'
SECRET_ACCESS_KEY = 'owlet-python-test-secret-000000000000000'
ACCOUNT_ID = '123456789012'
REGION = 'us-east-1'

CLI_TIMEOUT_S = 300


def workgroup_arn(name: str) -> str:
    return f'arn:aws:athena:{REGION}:{ACCOUNT_ID}:workgroup/{name}'


def make_boto3_client(endpoint: str, access_key_id: str = ACCESS_KEY_ID, secret_access_key: str = SECRET_ACCESS_KEY, service: str = 'athena', **config):
    """An Athena (or `service`) client of `endpoint` that tries each call once; `config` adds botocore Config options."""
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(retries={'max_attempts': 1}, **config),
    )


def make_s3_client(endpoint: str, access_key_id: str = ACCESS_KEY_ID, secret_access_key: str = SECRET_ACCESS_KEY, **config):
    """An S3 client of `endpoint` (Owlet's own object store), path-style, trying each call once. Presigned URLs
    are SigV4 (botocore presigns S3 URLs with SigV2 unless told otherwise; Owlet, like S3's newer regions, takes
    SigV4 only)."""
    return make_boto3_client(endpoint, access_key_id, secret_access_key, service='s3', s3={'addressing_style': 'path'}, signature_version='s3v4', **config)


def keys_under(s3, bucket: str, prefix: str) -> list[str]:
    """Every key under `prefix` in `bucket`, through an S3 client's ListObjectsV2 pages."""
    pages = s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=prefix)
    return [o['Key'] for page in pages for o in page.get('Contents', [])]


def s3_object_text(endpoint: str, uri: str) -> str | None:
    """The object at an s3:// URI in the server's store as text, or None when there is none (yet)."""
    bucket, key = uri[len('s3://'):].split('/', 1)
    client = make_s3_client(endpoint)
    try:
        return client.get_object(Bucket=bucket, Key=key)['Body'].read().decode()
    except ClientError as error:
        if error.response['Error']['Code'] in ('NoSuchKey', 'NoSuchBucket'):
            return None
        raise
    finally:
        client.close()


def cli_environment(**overrides: str) -> dict:
    """The environment of an `aws` run: the test keys, and nothing from the machine's own AWS setup."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('AWS_')}
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE='/dev/null',
        AWS_SHARED_CREDENTIALS_FILE='/dev/null',
        AWS_EC2_METADATA_DISABLED='true',
    )
    env.update(overrides)
    return env


def run_aws_cli(endpoint: str, *args: str, env: dict | None = None) -> tuple[int, object, str]:
    """Runs `aws <args> --endpoint-url <endpoint> --output json`; returns (exit code, stdout as JSON or None, stderr)."""
    aws = str(AWS_CLI) if AWS_CLI.exists() else shutil.which('aws')
    completed = subprocess.run(
        [aws, *args, '--endpoint-url', endpoint, '--output', 'json'],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=cli_environment(**(env or {})),
        timeout=CLI_TIMEOUT_S,
    )
    stdout = completed.stdout.strip()
    return completed.returncode, json.loads(stdout) if stdout else None, completed.stderr


# awscli v1 prints `\nAn error occurred (<Code>) when calling the <Operation> operation: <Message>\n`.
CLI_ERROR = re.compile(r'An error occurred \((?P<code>[^)]+)\) when calling the \w+ operation: (?P<message>.*)', re.DOTALL)


def cli_error(stderr: str) -> tuple[str, str] | None:
    """(code, message) of a service error the CLI printed, or None."""
    match = CLI_ERROR.search(stderr)
    return (match['code'], match['message'].strip()) if match else None


class AthenaCallError(Exception):
    """A call the server refused, as the client reported it."""

    def __init__(self, code: str | None, message: str, response: dict | None = None):
        super().__init__(f'{code}: {message}')
        self.code = code
        self.message = message
        #: boto3's parsed error response; None for the CLI, which prints only the code and the message.
        self.response = response


class AthenaCaller(Protocol):
    name: str

    def call(self, operation: str, **params) -> dict:
        """Runs `operation` (e.g. 'GetWorkGroup') and returns its output without ResponseMetadata."""
        ...


class Boto3Caller:
    name = 'boto3'

    def __init__(self, client):
        self.client = client

    def call(self, operation: str, **params) -> dict:
        try:
            response = getattr(self.client, xform_name(operation))(**params)
        except ClientError as error:
            raise AthenaCallError(error.response['Error']['Code'], error.response['Error']['Message'], error.response) from error
        response.pop('ResponseMetadata')
        return response


def cli_arguments(params: dict) -> list[str]:
    """Input members as CLI options: `--work-group=x`, `--recursive-delete-option`, `--tag-keys a b`, and
    structures or lists of structures as JSON."""
    args: list[str] = []
    for member, value in params.items():
        option = xform_name(member, '-')
        if isinstance(value, bool):
            args.append(f'--{option}' if value else f'--no-{option}')
        elif isinstance(value, (str, int)):
            # `=` keeps a value that starts with `-` (a NextToken may) from being read as an option.
            args.append(f'--{option}={value}')
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            args += [f'--{option}', *value]
        else:
            args.append(f'--{option}={json.dumps(value)}')
    return args


class CliCaller:
    name = 'cli'

    def __init__(self, run_aws: Callable[..., tuple[int, object, str]]):
        self.run_aws = run_aws

    def call(self, operation: str, **params) -> dict:
        code, output, stderr = self.run_aws('athena', xform_name(operation, '-'), *cli_arguments(params))
        if code != 0:
            error = cli_error(stderr)
            raise AthenaCallError(*error) if error else AthenaCallError(None, stderr)
        return output if output is not None else {}
