# Notebooks through boto3 (and one import through the AWS CLI): import and export byte for byte, the nbformat 4
# check, unique names, listing, updates, renames, deletes, imports from S3, idempotency tokens, and one real
# session bound to a notebook. test/notebooks.test.ts covers the same on the fake engine.
import json
import uuid

import pytest
from botocore.exceptions import ClientError
from owlet_clients import make_s3_client
from spark_sessions import wait_session

ROLE = 'arn:aws:iam::123456789012:role/OwletPytestRole'
NOTEBOOK_VERSION = 'Athena notebook version 1'
# Starting Spark on a busy 2-core machine can take tens of seconds.

# A notebook as an editor might leave it: odd spacing, non-ASCII text, no final newline.
PAYLOAD = (
    '{"nbformat": 4,  "nbformat_minor": 5,\n "metadata": {"kernelspec": {"name": "python3"}},\n'
    '  "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Größe \\u00e9 ✓\\n", "line"]},\n'
    '   {"cell_type": "code", "metadata": {}, "execution_count": null, "source": "spark.range(3).show()", "outputs": []}]}   '
)


def notebook_json(cells=()) -> str:
    return json.dumps({'nbformat': 4, 'nbformat_minor': 5, 'metadata': {}, 'cells': list(cells)})


def error_of(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response['Error']
    return error['Code'], error['Message']


@pytest.fixture
def workgroup(athena_client, new_name):
    """A Spark workgroup of the test's own, so that listings see only its notebooks."""
    name = new_name('nb')
    athena_client.create_work_group(
        Name=name, Configuration={'EngineVersion': {'SelectedEngineVersion': 'PySpark engine version 3'}, 'ExecutionRole': ROLE}
    )
    return name


def import_notebook(athena, workgroup, name, payload=None, **more) -> str:
    return athena.import_notebook(WorkGroup=workgroup, Name=name, Payload=payload or notebook_json(), Type='IPYNB', **more)['NotebookId']


def names(athena, workgroup) -> list[str]:
    return [m['Name'] for m in athena.list_notebook_metadata(WorkGroup=workgroup)['NotebookMetadataList']]


def test_import_then_export_returns_the_payload_unchanged(athena_client, workgroup):
    notebook_id = import_notebook(athena_client, workgroup, 'analysis', PAYLOAD)
    uuid.UUID(notebook_id)

    exported = athena_client.export_notebook(NotebookId=notebook_id)

    assert exported['Payload'] == PAYLOAD
    metadata = exported['NotebookMetadata']
    assert {k: metadata[k] for k in ('NotebookId', 'Name', 'WorkGroup', 'Type')} == {
        'NotebookId': notebook_id,
        'Name': 'analysis',
        'WorkGroup': workgroup,
        'Type': 'IPYNB',
    }
    assert metadata['CreationTime'] == metadata['LastModifiedTime']
    assert athena_client.get_notebook_metadata(NotebookId=notebook_id)['NotebookMetadata'] == metadata


def test_create_notebook_makes_an_empty_nbformat_4_notebook(athena_client, workgroup):
    notebook_id = athena_client.create_notebook(WorkGroup=workgroup, Name='blank')['NotebookId']

    notebook = json.loads(athena_client.export_notebook(NotebookId=notebook_id)['Payload'])

    assert (notebook['nbformat'], notebook['cells']) == (4, [])
    assert isinstance(notebook['nbformat_minor'], int) and isinstance(notebook['metadata'], dict)


@pytest.mark.parametrize(
    'payload, message',
    [
        ('not json', 'The notebook is not valid JSON: '),
        (
            json.dumps({'nbformat': 3, 'nbformat_minor': 0, 'metadata': {}, 'worksheets': []}),
            'The notebook is in nbformat 3; Owlet accepts notebooks in nbformat 4 only',
        ),
        (
            notebook_json([{'cell_type': 'code', 'metadata': {}, 'source': 'x', 'execution_count': None}]),
            'The notebook is not a Jupyter notebook in nbformat 4: cells[0].outputs must be an array.',
        ),
        (
            notebook_json([{'cell_type': 'heading', 'metadata': {}, 'source': 'x'}]),
            'The notebook is not a Jupyter notebook in nbformat 4: cells[0].cell_type must be one of "code", "markdown", "raw".',
        ),
    ],
)
def test_what_is_not_nbformat_4_is_refused_and_not_stored(athena_client, workgroup, payload, message):
    code, text = error_of(athena_client.import_notebook, WorkGroup=workgroup, Name='bad', Payload=payload, Type='IPYNB')

    assert code == 'InvalidRequestException'
    assert text.startswith(message)
    assert names(athena_client, workgroup) == []


def test_names_are_unique_in_a_workgroup(athena_client, workgroup, new_name):
    other = new_name('nb')
    athena_client.create_work_group(
        Name=other, Configuration={'EngineVersion': {'SelectedEngineVersion': 'PySpark engine version 3'}, 'ExecutionRole': ROLE}
    )
    athena_client.create_notebook(WorkGroup=workgroup, Name='report')
    taken = ('InvalidRequestException', f'Notebook report already exists in workgroup {workgroup}.')

    assert error_of(athena_client.create_notebook, WorkGroup=workgroup, Name='report') == taken
    assert error_of(athena_client.import_notebook, WorkGroup=workgroup, Name='report', Payload=notebook_json(), Type='IPYNB') == taken
    assert names(athena_client, workgroup) == ['report']
    # Another workgroup has its own names; a SQL workgroup has no notebooks.
    athena_client.create_notebook(WorkGroup=other, Name='report')
    assert names(athena_client, other) == ['report']
    assert error_of(athena_client.create_notebook, WorkGroup='primary', Name='report') == (
        'InvalidRequestException',
        'Workgroup EngineVersion is not Spark.',
    )


def test_list_filters_by_name_and_pages(athena_client, workgroup):
    for name in ['delta', 'Sales 2025', 'alpha', 'sales 2026', 'charlie', 'bravo', 'wholesale']:
        import_notebook(athena_client, workgroup, name)

    filtered = athena_client.list_notebook_metadata(WorkGroup=workgroup, Filters={'Name': 'sale'})
    assert [m['Name'] for m in filtered['NotebookMetadataList']] == ['Sales 2025', 'sales 2026', 'wholesale']
    assert 'NextToken' not in filtered

    pages, token = [], None
    while True:
        page = athena_client.list_notebook_metadata(WorkGroup=workgroup, MaxResults=3, **({'NextToken': token} if token else {}))
        pages.append([m['Name'] for m in page['NotebookMetadataList']])
        token = page.get('NextToken')
        if token is None:
            break
    assert pages == [['Sales 2025', 'alpha', 'bravo'], ['charlie', 'delta', 'sales 2026'], ['wholesale']]


def test_update_content_and_rename(athena_client, workgroup):
    notebook_id = import_notebook(athena_client, workgroup, 'draft', PAYLOAD)
    import_notebook(athena_client, workgroup, 'final')
    content = notebook_json([{'cell_type': 'markdown', 'metadata': {}, 'source': 'v2'}])

    athena_client.update_notebook(NotebookId=notebook_id, Payload=content, Type='IPYNB')
    athena_client.update_notebook_metadata(NotebookId=notebook_id, Name='reviewed')

    exported = athena_client.export_notebook(NotebookId=notebook_id)
    assert exported['Payload'] == content
    assert exported['NotebookMetadata']['Name'] == 'reviewed'
    assert exported['NotebookMetadata']['LastModifiedTime'] >= exported['NotebookMetadata']['CreationTime']
    assert error_of(athena_client.update_notebook_metadata, NotebookId=notebook_id, Name='final') == (
        'InvalidRequestException',
        f'Notebook final already exists in workgroup {workgroup}.',
    )
    code, _ = error_of(athena_client.update_notebook, NotebookId=notebook_id, Payload='{"nbformat": 4}', Type='IPYNB')
    assert code == 'InvalidRequestException'
    assert athena_client.export_notebook(NotebookId=notebook_id)['Payload'] == content
    assert names(athena_client, workgroup) == ['final', 'reviewed']


def test_delete(athena_client, workgroup):
    notebook_id = import_notebook(athena_client, workgroup, 'scratch')

    athena_client.delete_notebook(NotebookId=notebook_id)

    assert names(athena_client, workgroup) == []
    gone = f'Notebook {notebook_id} is not found.'
    assert error_of(athena_client.get_notebook_metadata, NotebookId=notebook_id) == ('InvalidRequestException', gone)
    assert error_of(athena_client.list_notebook_sessions, NotebookId=notebook_id) == ('ResourceNotFoundException', gone)


def test_import_from_an_s3_location(athena_client, workgroup, owlet):
    key = f'imports/{workgroup}/analysis.ipynb'
    s3 = make_s3_client(owlet.endpoint)
    try:
        s3.create_bucket(Bucket='notebooks-bucket')
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_object(Bucket='notebooks-bucket', Key=key, Body=PAYLOAD.encode())

    notebook_id = athena_client.import_notebook(
        WorkGroup=workgroup, Name='from-s3', Type='IPYNB', NotebookS3LocationUri=f's3://notebooks-bucket/{key}'
    )['NotebookId']

    assert athena_client.export_notebook(NotebookId=notebook_id)['Payload'] == PAYLOAD
    assert error_of(
        athena_client.import_notebook, WorkGroup=workgroup, Name='other', Type='IPYNB', NotebookS3LocationUri='s3://notebooks-bucket/none.ipynb'
    ) == ('InvalidRequestException', 'The notebook file s3://notebooks-bucket/none.ipynb does not exist.')
    assert error_of(
        athena_client.import_notebook,
        WorkGroup=workgroup,
        Name='other',
        Type='IPYNB',
        Payload=PAYLOAD,
        NotebookS3LocationUri=f's3://notebooks-bucket/{key}',
    ) == ('InvalidRequestException', 'Specify either Payload or NotebookS3LocationUri, not both.')
    assert error_of(athena_client.import_notebook, WorkGroup=workgroup, Name='other', Type='IPYNB') == (
        'InvalidRequestException',
        'Specify either Payload or NotebookS3LocationUri.',
    )


def test_import_and_export_through_the_cli(aws_cli, workgroup, tmp_path):
    source = tmp_path / 'analysis.ipynb'
    source.write_bytes(PAYLOAD.encode())

    exit_code, imported, stderr = aws_cli(
        'athena', 'import-notebook', '--work-group', workgroup, '--name', 'cli', '--type', 'IPYNB', '--payload', f'file://{source}'
    )
    assert exit_code == 0, stderr
    exit_code, exported, stderr = aws_cli('athena', 'export-notebook', '--notebook-id', imported['NotebookId'])
    assert exit_code == 0, stderr

    assert exported['Payload'] == PAYLOAD


def test_client_request_tokens(athena_client, workgroup):
    token = str(uuid.uuid4())
    mismatch = ('InvalidRequestException', 'Idempotent parameters do not match')

    first = athena_client.create_notebook(WorkGroup=workgroup, Name='once', ClientRequestToken=token)['NotebookId']
    assert athena_client.create_notebook(WorkGroup=workgroup, Name='once', ClientRequestToken=token)['NotebookId'] == first
    assert error_of(athena_client.create_notebook, WorkGroup=workgroup, Name='twice', ClientRequestToken=token) == mismatch

    imported = import_notebook(athena_client, workgroup, 'imported', PAYLOAD, ClientRequestToken=token)
    assert import_notebook(athena_client, workgroup, 'imported', PAYLOAD, ClientRequestToken=token) == imported
    assert names(athena_client, workgroup) == ['imported', 'once']

    content = notebook_json([{'cell_type': 'raw', 'metadata': {}, 'source': 'v2'}])
    athena_client.update_notebook(NotebookId=first, Payload=content, Type='IPYNB', ClientRequestToken=token)
    athena_client.update_notebook(NotebookId=first, Payload=notebook_json(), Type='IPYNB')
    athena_client.update_notebook(NotebookId=first, Payload=content, Type='IPYNB', ClientRequestToken=token)
    assert athena_client.export_notebook(NotebookId=first)['Payload'] == notebook_json()

    athena_client.update_notebook_metadata(NotebookId=first, Name='renamed', ClientRequestToken=token)
    athena_client.update_notebook_metadata(NotebookId=first, Name='renamed-again')
    athena_client.update_notebook_metadata(NotebookId=first, Name='renamed', ClientRequestToken=token)
    assert athena_client.get_notebook_metadata(NotebookId=first)['NotebookMetadata']['Name'] == 'renamed-again'
    assert error_of(athena_client.update_notebook_metadata, NotebookId=first, Name='other', ClientRequestToken=token) == mismatch


def test_a_notebook_session_on_pyspark(athena_client, workgroup):
    notebook_id = import_notebook(athena_client, workgroup, 'interactive', PAYLOAD)
    start = dict(
        WorkGroup=workgroup,
        NotebookVersion=NOTEBOOK_VERSION,
        EngineConfiguration={'MaxConcurrentDpus': 2, 'AdditionalConfigs': {'NotebookId': notebook_id}},
    )
    session_id = athena_client.start_session(**start)['SessionId']
    try:
        assert wait_session(athena_client, session_id, ('IDLE', 'FAILED'))['State'] == 'IDLE'
        listed = athena_client.list_notebook_sessions(NotebookId=notebook_id)['NotebookSessionsList']
        assert [s['SessionId'] for s in listed] == [session_id]

        code, message = error_of(athena_client.start_session, **start)
        assert code == 'SessionAlreadyExistsException'
        assert message == f'An active session already exists for notebook {notebook_id} (session {session_id}).'
        active = f'Notebook {notebook_id} has an active session ({session_id});'
        assert error_of(athena_client.update_notebook_metadata, NotebookId=notebook_id, Name='renamed') == (
            'InvalidRequestException',
            f'{active} terminate it before renaming the notebook.',
        )
        assert error_of(athena_client.delete_notebook, NotebookId=notebook_id) == (
            'InvalidRequestException',
            f'{active} terminate it before deleting the notebook.',
        )
        assert error_of(athena_client.update_notebook, NotebookId=notebook_id, Payload=notebook_json(), Type='IPYNB') == (
            'InvalidRequestException',
            f'{active} give its SessionId to update the notebook.',
        )
        athena_client.update_notebook(NotebookId=notebook_id, Payload=notebook_json(), Type='IPYNB', SessionId=session_id)
    finally:
        athena_client.terminate_session(SessionId=session_id)
    assert wait_session(athena_client, session_id, ('TERMINATED', 'FAILED'))['State'] == 'TERMINATED'

    assert athena_client.list_notebook_sessions(NotebookId=notebook_id)['NotebookSessionsList'] == []
    athena_client.update_notebook_metadata(NotebookId=notebook_id, Name='renamed')
    athena_client.delete_notebook(NotebookId=notebook_id)
