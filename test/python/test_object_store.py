# Owlet's object store through the clients people use with S3: the AWS CLI (`aws s3` and `aws s3api`), boto3
# (multipart `upload_file`, presigned URLs, conditional and ranged GETs, copies, batch deletes, checksums) and
# pyarrow's S3FileSystem; hostile keys and bad signatures; and a server SIGKILLed in the middle of uploads.
import hashlib
import json
import http.client
import os
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from owlet_clients import ACCESS_KEY_ID, AWS_CLI, CLI_TIMEOUT_S, REGION, SECRET_ACCESS_KEY, cli_environment, make_s3_client

MIB = 1024 * 1024


@pytest.fixture(scope='module')
def s3(owlet):
    client = make_s3_client(owlet.endpoint)
    yield client
    client.close()


def new_bucket(s3) -> str:
    name = f'py-{uuid.uuid4().hex[:12]}'
    s3.create_bucket(Bucket=name)
    return name


def error_of(call, **params) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response['Error']['Code'], caught.value.response['ResponseMetadata']['HTTPStatusCode']


def aws(owlet, *args: str) -> tuple[int, str, str]:
    """Runs `aws <args> --endpoint-url <endpoint>`; returns (exit code, stdout, stderr) as text."""
    done = subprocess.run(
        [str(AWS_CLI), *args, '--endpoint-url', owlet.endpoint], env=cli_environment(), capture_output=True, text=True, timeout=CLI_TIMEOUT_S * 3
    )
    return done.returncode, done.stdout, done.stderr


def random_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def test_aws_cli_makes_copies_syncs_lists_removes_and_removes_buckets(owlet, tmp_path):
    bucket = f'cli-{uuid.uuid4().hex[:12]}'
    code, _, err = aws(owlet, 's3', 'mb', f's3://{bucket}')
    assert code == 0, err
    tree = tmp_path / 'tree'
    files = {
        'a.txt': random_file(tree / 'a.txt', 10),
        'dir/b.bin': random_file(tree / 'dir' / 'b.bin', 100_000),
        'dir/deeper/c with space.txt': random_file(tree / 'dir' / 'deeper' / 'c with space.txt', 3),
        # Over the CLI's 8 MiB threshold: a multipart upload.
        'big.bin': random_file(tree / 'big.bin', 9 * MIB + 17),
    }
    code, _, err = aws(owlet, 's3', 'cp', str(tree), f's3://{bucket}/copied/', '--recursive')
    assert code == 0, err
    code, _, err = aws(owlet, 's3', 'sync', str(tree), f's3://{bucket}/synced/')
    assert code == 0, err
    listing = make_s3_client(owlet.endpoint).list_objects_v2(Bucket=bucket)
    keys = sorted(o['Key'] for o in listing['Contents'])
    assert keys == sorted([f'copied/{k}' for k in files] + [f'synced/{k}' for k in files])
    head = make_s3_client(owlet.endpoint).head_object(Bucket=bucket, Key='copied/big.bin')
    assert head['ETag'].endswith('-2"'), head['ETag']
    # A second sync of unchanged files uploads nothing; a changed one is uploaded again.
    random_file(tree / 'a.txt', 11)
    code, out, err = aws(owlet, 's3', 'sync', str(tree), f's3://{bucket}/synced/')
    assert code == 0, err

    back = tmp_path / 'back'
    code, _, err = aws(owlet, 's3', 'cp', f's3://{bucket}/copied/', str(back), '--recursive')
    assert code == 0, err
    for key, data in files.items():
        assert (back / key).read_bytes() == data, key
    code, _, err = aws(owlet, 's3', 'sync', f's3://{bucket}/synced/', str(tmp_path / 'synced-back'))
    assert code == 0, err
    assert (tmp_path / 'synced-back' / 'a.txt').read_bytes() == (tree / 'a.txt').read_bytes()

    code, out, err = aws(owlet, 's3', 'ls', f's3://{bucket}/copied/')
    assert code == 0, err
    assert [line.split()[-1] for line in out.splitlines()] == ['dir/', 'a.txt', 'big.bin'], out
    code, _, err = aws(owlet, 's3', 'rb', f's3://{bucket}')
    assert code != 0 and 'BucketNotEmpty' in err, err
    code, _, err = aws(owlet, 's3', 'rm', f's3://{bucket}/', '--recursive')
    assert code == 0, err
    code, _, err = aws(owlet, 's3', 'rb', f's3://{bucket}')
    assert code == 0, err
    code, _, err = aws(owlet, 's3api', 'head-bucket', '--bucket', bucket)
    assert code != 0 and '404' in err, err


def test_aws_cli_ls_names_what_it_lists(owlet, s3, tmp_path):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key='folder/one.txt', Body=b'1')
    s3.put_object(Bucket=bucket, Key='top.txt', Body=b'22')
    code, out, err = aws(owlet, 's3', 'ls', f's3://{bucket}/')
    assert code == 0, err
    assert [line.split()[-1] for line in out.splitlines()] == ['folder/', 'top.txt'], out
    code, out, err = aws(owlet, 's3', 'ls', f's3://{bucket}/', '--recursive')
    assert [line.split()[-1] for line in out.splitlines()] == ['folder/one.txt', 'top.txt'], out
    code, out, err = aws(owlet, 's3', 'ls')
    assert bucket in out, out


def test_aws_cli_s3api_answers_the_error_cases_with_s3_codes(owlet, s3, tmp_path):
    bucket = new_bucket(s3)

    def cli_error(*args: str) -> str:
        code, _, err = aws(owlet, 's3api', *args)
        assert code != 0
        return err

    assert 'NoSuchKey' in cli_error('get-object', '--bucket', bucket, '--key', 'missing', str(tmp_path / 'out'))
    assert 'NoSuchBucket' in cli_error('list-objects-v2', '--bucket', 'no-such-bucket-here')
    assert 'InvalidBucketName' in cli_error('create-bucket', '--bucket', 'Not_A_Bucket')
    assert 'BucketAlreadyOwnedByYou' in cli_error('create-bucket', '--bucket', bucket)
    s3.put_object(Bucket=bucket, Key='k', Body=b'x')
    assert 'BucketNotEmpty' in cli_error('delete-bucket', '--bucket', bucket)
    assert 'InvalidRange' in cli_error('get-object', '--bucket', bucket, '--key', 'k', '--range', 'bytes=5-9', str(tmp_path / 'out'))
    assert 'PreconditionFailed' in cli_error('get-object', '--bucket', bucket, '--key', 'k', '--if-match', '"abc"', str(tmp_path / 'out'))

    upload_id = s3.create_multipart_upload(Bucket=bucket, Key='mp')['UploadId']
    small = s3.upload_part(Bucket=bucket, Key='mp', UploadId=upload_id, PartNumber=1, Body=b'tiny')['ETag']
    last = s3.upload_part(Bucket=bucket, Key='mp', UploadId=upload_id, PartNumber=2, Body=b'tail')['ETag']
    parts = json.dumps({'Parts': [{'PartNumber': 1, 'ETag': small}, {'PartNumber': 2, 'ETag': last}]})
    assert 'EntityTooSmall' in cli_error('complete-multipart-upload', '--bucket', bucket, '--key', 'mp', '--upload-id', upload_id, '--multipart-upload', parts)
    wrong = '{"Parts":[{"PartNumber":1,"ETag":"\\"0123\\""}]}'
    assert 'InvalidPart' in cli_error('complete-multipart-upload', '--bucket', bucket, '--key', 'mp', '--upload-id', upload_id, '--multipart-upload', wrong)
    backwards = json.dumps({'Parts': [{'PartNumber': 2, 'ETag': last}, {'PartNumber': 1, 'ETag': small}]})
    assert 'InvalidPartOrder' in cli_error('complete-multipart-upload', '--bucket', bucket, '--key', 'mp', '--upload-id', upload_id, '--multipart-upload', backwards)
    assert 'NoSuchUpload' in cli_error('list-parts', '--bucket', bucket, '--key', 'mp', '--upload-id', 'not-an-upload')
    code, _, err = aws(owlet, 's3api', 'abort-multipart-upload', '--bucket', bucket, '--key', 'mp', '--upload-id', upload_id)
    assert code == 0, err


def test_boto3_upload_file_in_parts_and_download_it(s3, tmp_path):
    bucket = new_bucket(s3)
    data = random_file(tmp_path / 'big.bin', 11 * MIB + 5)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=2)
    s3.upload_file(str(tmp_path / 'big.bin'), bucket, 'nested/big.bin', Config=config, ExtraArgs={'Metadata': {'kind': 'test'}})
    head = s3.head_object(Bucket=bucket, Key='nested/big.bin')
    part_md5s = b''.join(hashlib.md5(data[i:i + 5 * MIB]).digest() for i in range(0, len(data), 5 * MIB))
    assert head['ETag'] == f'"{hashlib.md5(part_md5s).hexdigest()}-3"'
    assert head['ContentLength'] == len(data)
    assert head['Metadata'] == {'kind': 'test'}
    s3.download_file(bucket, 'nested/big.bin', str(tmp_path / 'back.bin'), Config=config)
    assert (tmp_path / 'back.bin').read_bytes() == data


def test_boto3_checksums_are_checked_stored_and_returned(s3):
    bucket = new_bucket(s3)
    body = b'checksummed body'
    # (CRC32C and CRC64NVME need botocore's optional CRT package; the JavaScript SDK's test sends them.)
    for algorithm in ('CRC32', 'SHA1', 'SHA256'):
        put = s3.put_object(Bucket=bucket, Key=algorithm, Body=body, ChecksumAlgorithm=algorithm)
        got = s3.get_object(Bucket=bucket, Key=algorithm, ChecksumMode='ENABLED')
        assert got['Body'].read() == body
        assert got[f'Checksum{algorithm}'] == put[f'Checksum{algorithm}'], algorithm
    code = error_of(s3.put_object, Bucket=bucket, Key='bad', Body=body, ChecksumCRC32='AAAAAA==')
    assert code == ('BadDigest', 400)
    code = error_of(s3.put_object, Bucket=bucket, Key='bad', Body=body, ContentMD5='1B2M2Y8AsgTpgAmY7PhCfg==')
    assert code == ('BadDigest', 400)
    assert error_of(s3.head_object, Bucket=bucket, Key='bad') == ('404', 404)


def test_boto3_conditional_and_ranged_gets(s3):
    bucket = new_bucket(s3)
    etag = s3.put_object(Bucket=bucket, Key='k', Body=b'0123456789')['ETag']
    assert s3.get_object(Bucket=bucket, Key='k', Range='bytes=2-4')['Body'].read() == b'234'
    assert s3.get_object(Bucket=bucket, Key='k', Range='bytes=-3')['Body'].read() == b'789'
    assert s3.get_object(Bucket=bucket, Key='k', IfMatch=etag)['Body'].read() == b'0123456789'
    assert error_of(s3.get_object, Bucket=bucket, Key='k', IfMatch='"other"') == ('PreconditionFailed', 412)
    assert error_of(s3.get_object, Bucket=bucket, Key='k', IfNoneMatch=etag) == ('304', 304)
    future = datetime.now(timezone.utc) + timedelta(days=1)
    past = datetime.now(timezone.utc) - timedelta(days=1)
    assert error_of(s3.get_object, Bucket=bucket, Key='k', IfModifiedSince=future) == ('304', 304)
    assert s3.get_object(Bucket=bucket, Key='k', IfModifiedSince=past)['Body'].read() == b'0123456789'
    assert error_of(s3.get_object, Bucket=bucket, Key='k', IfUnmodifiedSince=past) == ('PreconditionFailed', 412)
    assert error_of(s3.get_object, Bucket=bucket, Key='k', Range='bytes=10-') == ('InvalidRange', 416)


def test_boto3_copies_and_deletes_in_batches(s3):
    bucket = new_bucket(s3)
    other = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key='src', Body=b'payload', ContentType='text/x-src', Metadata={'a': '1'})
    s3.copy_object(Bucket=other, Key='dst', CopySource={'Bucket': bucket, 'Key': 'src'})
    copied = s3.get_object(Bucket=other, Key='dst')
    assert (copied['Body'].read(), copied['ContentType'], copied['Metadata']) == (b'payload', 'text/x-src', {'a': '1'})
    s3.copy_object(Bucket=other, Key='dst', CopySource={'Bucket': other, 'Key': 'dst'}, MetadataDirective='REPLACE', Metadata={'b': '2'}, ContentType='text/y')
    assert s3.head_object(Bucket=other, Key='dst')['Metadata'] == {'b': '2'}
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f'batch/{i}', Body=b'x')
    result = s3.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': f'batch/{i}'} for i in range(5)] + [{'Key': 'never'}]})
    assert sorted(d['Key'] for d in result['Deleted']) == ['batch/0', 'batch/1', 'batch/2', 'batch/3', 'batch/4', 'never']
    assert s3.list_objects_v2(Bucket=bucket, Prefix='batch/')['KeyCount'] == 0


def test_boto3_presigned_urls_work_until_they_expire(owlet, s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key='shared file.txt', Body=b'for a browser')
    url = s3.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'shared file.txt'}, ExpiresIn=600)
    with urllib.request.urlopen(url) as answer:
        assert answer.read() == b'for a browser'
    tampered = url.replace('shared%20file.txt', 'other.txt')
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered)
    assert refused.value.code == 403 and b'SignatureDoesNotMatch' in refused.value.read()
    put_url = s3.generate_presigned_url('put_object', Params={'Bucket': bucket, 'Key': 'uploaded'}, ExpiresIn=600)
    with urllib.request.urlopen(urllib.request.Request(put_url, data=b'put by url', method='PUT')) as answer:
        assert answer.status == 200
    assert s3.get_object(Bucket=bucket, Key='uploaded')['Body'].read() == b'put by url'
    v2 = boto3.session.Session().client(
        's3', endpoint_url=owlet.endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY,
        config=boto3.session.Config(signature_version='s3', s3={'addressing_style': 'path'}),
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(v2.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'uploaded'}))
    assert refused.value.code == 400 and b'Please use AWS4-HMAC-SHA256' in refused.value.read()

    short = s3.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'shared file.txt'}, ExpiresIn=1)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(short).close()
        except urllib.error.HTTPError as error:
            body = error.read()
            assert error.code == 403 and b'<Code>AccessDenied</Code>' in body and b'Request has expired' in body, body
            break
        assert time.monotonic() < deadline, 'the presigned URL did not expire'
        time.sleep(0.2)


def test_pyarrow_writes_and_reads_parquet_through_s3filesystem(owlet, s3):
    bucket = new_bucket(s3)
    host = owlet.endpoint[len('http://'):]
    fs = pafs.S3FileSystem(
        access_key=ACCESS_KEY_ID, secret_key=SECRET_ACCESS_KEY, endpoint_override=host, scheme='http', region=REGION, allow_bucket_creation=False
    )
    table = pa.table({'id': list(range(100_000)), 'name': [f'row {i}' for i in range(100_000)]})
    pq.write_table(table, f'{bucket}/tables/t/part-0.parquet', filesystem=fs)
    pq.write_table(table.slice(0, 10), f'{bucket}/tables/t/part-1.parquet', filesystem=fs)
    info = fs.get_file_info(pafs.FileSelector(f'{bucket}/tables', recursive=True))
    assert sorted(i.path for i in info if i.type == pafs.FileType.File) == [f'{bucket}/tables/t/part-0.parquet', f'{bucket}/tables/t/part-1.parquet']
    read = pq.read_table(f'{bucket}/tables/t', filesystem=fs)
    assert read.num_rows == 100_010
    assert pq.read_table(f'{bucket}/tables/t/part-0.parquet', filesystem=fs).equals(table)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob('*')}


def test_hostile_keys_stay_keys_and_never_reach_outside_the_store(owlet, s3):
    bucket = new_bucket(s3)
    data = Path(owlet.root) / 'data'
    before = {p for p in files_under(data) if not p.startswith('objects/blobs/') and not p.startswith('objects/index') and not p.startswith('sessions')}
    keys = ['../../../outside.txt', 'a/../../b', '..', '.', '//double//slashes//', '/leading', 'nul\x00byte', 'tab\tand\nnewline', 'é 😀 \u202e', 'x' * 1024]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)['Body'].read() == key.encode(), repr(key)
    listed = [o['Key'] for o in s3.list_objects_v2(Bucket=bucket)['Contents']]
    assert listed == sorted(keys, key=lambda k: k.encode()), listed
    assert error_of(s3.put_object, Bucket=bucket, Key='y' * 1025, Body=b'x') == ('KeyTooLongError', 400)
    after = {p for p in files_under(data) if not p.startswith('objects/blobs/') and not p.startswith('objects/index') and not p.startswith('sessions')}
    assert after == before, after - before
    assert not (Path(owlet.root) / 'outside.txt').exists()
    for name in (p.name for p in (data / 'objects' / 'blobs').rglob('*') if p.is_file()):
        assert len(name) == 32 and all(c in '0123456789abcdef' for c in name), name


def test_bad_signatures_and_anonymous_requests_are_refused(owlet, s3):
    bucket = new_bucket(s3)
    wrong = make_s3_client(owlet.endpoint, secret_access_key='not-the-secret')
    assert error_of(wrong.put_object, Bucket=bucket, Key='k', Body=b'x') == ('SignatureDoesNotMatch', 403)
    assert error_of(wrong.list_objects_v2, Bucket=bucket) == ('SignatureDoesNotMatch', 403)
    unknown = make_s3_client(owlet.endpoint, access_key_id='AKIDUNKNOWN000000000')
    assert error_of(unknown.list_buckets) == ('InvalidAccessKeyId', 403)
    anonymous = boto3.session.Session().client('s3', endpoint_url=owlet.endpoint, region_name=REGION, config=boto3.session.Config(signature_version=boto3.session.botocore.UNSIGNED))
    assert error_of(anonymous.get_object, Bucket=bucket, Key='k') == ('AccessDenied', 403)
    assert error_of(anonymous.put_object, Bucket=bucket, Key='k', Body=b'x') == ('AccessDenied', 403)
    assert error_of(s3.head_object, Bucket=bucket, Key='k') == ('404', 404)


def unfinished_put(url: str, size: int, stop: threading.Event) -> None:
    """A PUT to a presigned URL announcing `size` bytes, sent slowly and never finished: the server dies meanwhile."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    connection.putrequest('PUT', f'{parsed.path}?{parsed.query}', skip_accept_encoding=True)
    connection.putheader('Content-Length', str(size))
    connection.endheaders()
    chunk = os.urandom(MIB)
    try:
        for _ in range(size // MIB - 1):
            connection.send(chunk)
            if stop.wait(0.01):
                break
    except OSError:
        pass
    finally:
        connection.close()


def test_a_server_killed_during_uploads_shows_nothing_partial_after_restart(owlet_servers):
    server = owlet_servers.start()
    blobs = Path(server.root) / 'data' / 'objects' / 'blobs'
    try:
        s3 = make_s3_client(server.endpoint)
        s3.create_bucket(Bucket='crash')
        s3.put_object(Bucket='crash', Key='done-before', Body=b'committed')
        upload_id = s3.create_multipart_upload(Bucket='crash', Key='multipart')['UploadId']
        part = os.urandom(5 * MIB)
        etag = s3.upload_part(Bucket='crash', Key='multipart', UploadId=upload_id, PartNumber=1, Body=part)['ETag']
        stop = threading.Event()
        urls = [
            s3.generate_presigned_url('put_object', Params={'Bucket': 'crash', 'Key': 'large-put'}, ExpiresIn=600),
            s3.generate_presigned_url('upload_part', Params={'Bucket': 'crash', 'Key': 'multipart', 'UploadId': upload_id, 'PartNumber': 2}, ExpiresIn=600),
        ]
        writers = [threading.Thread(target=unfinished_put, args=(url, 512 * MIB, stop), daemon=True) for url in urls]
        for writer in writers:
            writer.start()
        # Wait until the server is writing both bodies: two more blob files than the object's and the part's.
        deadline = time.monotonic() + 60
        while sum(1 for p in blobs.rglob('*') if p.is_file() and p.stat().st_size > 0) < 4:
            assert time.monotonic() < deadline, 'the unfinished uploads never reached the disk'
            time.sleep(0.05)
        server.process.kill()
        server.process.wait()
        stop.set()
        for writer in writers:
            writer.join(timeout=60)
        assert sum(1 for p in blobs.rglob('*') if p.is_file()) == 4, 'the cut bodies are on disk before the restart'

        server = owlet_servers.start(root=server.root)
        s3 = make_s3_client(server.endpoint)
        assert s3.get_object(Bucket='crash', Key='done-before')['Body'].read() == b'committed'
        assert error_of(s3.head_object, Bucket='crash', Key='large-put') == ('404', 404)
        assert error_of(s3.head_object, Bucket='crash', Key='multipart') == ('404', 404)
        assert [o['Key'] for o in s3.list_objects_v2(Bucket='crash')['Contents']] == ['done-before']
        # The sweep at start removed the cut blob; the committed object and the uploaded part stay.
        assert sum(1 for p in blobs.rglob('*') if p.is_file()) == 2
        # The upload carries on after the restart with the parts that were complete, as on S3.
        assert [u['UploadId'] for u in s3.list_multipart_uploads(Bucket='crash')['Uploads']] == [upload_id]
        assert [p['PartNumber'] for p in s3.list_parts(Bucket='crash', Key='multipart', UploadId=upload_id)['Parts']] == [1]
        last = s3.upload_part(Bucket='crash', Key='multipart', UploadId=upload_id, PartNumber=2, Body=b'tail')['ETag']
        s3.complete_multipart_upload(
            Bucket='crash', Key='multipart', UploadId=upload_id, MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': etag}, {'PartNumber': 2, 'ETag': last}]}
        )
        assert s3.get_object(Bucket='crash', Key='multipart')['Body'].read() == part + b'tail'
    finally:
        owlet_servers.stop(server)
