# `s3://`, `s3a://` and `s3n://` paths in session code, on real PySpark through boto3 (docs/s3.md): Athena's
# example notebook run unchanged on a taxi file the AWS CLI uploaded; every format written and read through every
# scheme; dynamic partition overwrites of s3:// and file:// paths on both engines; LOCATION, sc.textFile,
# sc.addPyFile, sc.addFile and ADD JAR from s3://; what boto3 and pyarrow wrote read by Spark and what Spark wrote
# read by them; the session's own key pair (the API's secret nowhere in what session code can read, the key
# refused once the session ends); the data plane pointed at an external S3-compatible server (moto's, started
# here); a server SIGKILLed during a Spark write, once with S3A's retries outlasting the restart and once with
# the write made to fail while the server is down (on both engines); and a smoke run on the Spark 4.1 engine.
# Sessions are few: most cases run in one session, the warm pool's, so that the hand-over of a pooled runner is
# what is tested.
import datetime
import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from child_processes import die_with_parent
from owlet_clients import ACCESS_KEY_ID, REGION, ROOT, SECRET_ACCESS_KEY, keys_under, make_boto3_client, make_s3_client, run_aws_cli
from spark_sessions import (
    SESSION_START_TIMEOUT_S,
    STATE_CHANGE_TIMEOUT_S,
    ready_pooled_runner,
    run,
    stdout_of,
    wait_calculation,
    wait_for,
    wait_session,
)

# Writes through S3A start its classes and the AWS SDK's on first use: minutes on a loaded 2-core machine.
S3A_CALCULATION_TIMEOUT_S = 900
EXAMPLES_BUCKET = 'athena-examples-us-east-1'
TAXI_KEY = 'notebooks/yellow_tripdata_2016-01.parquet'
DATA = 'owlet-s3a-data'
ROLE = 'arn:aws:iam::123456789012:role/OwletPytestRole'
SPARK_4 = 'Apache Spark version 4.1'
TAXI_ROWS = 2_000


def taxi_table() -> pa.Table:
    """Rows with the columns and types of the NYC TLC yellow taxi files of 2016 (the real file cannot be
    fetched here), made up deterministically."""
    start = datetime.datetime(2016, 1, 1)
    rows = range(TAXI_ROWS)
    return pa.table(
        {
            'VendorID': pa.array([1 + i % 2 for i in rows], pa.int64()),
            'tpep_pickup_datetime': pa.array([start + datetime.timedelta(minutes=i) for i in rows], pa.timestamp('us')),
            'tpep_dropoff_datetime': pa.array([start + datetime.timedelta(minutes=i + 7) for i in rows], pa.timestamp('us')),
            'passenger_count': pa.array([1 + i % 6 for i in rows], pa.int64()),
            'trip_distance': pa.array([0.5 + (i % 40) / 4 for i in rows], pa.float64()),
            'RatecodeID': pa.array([1 + i % 5 for i in rows], pa.int64()),
            'store_and_fwd_flag': pa.array(['N' if i % 9 else 'Y' for i in rows], pa.string()),
            'PULocationID': pa.array([1 + i % 263 for i in rows], pa.int64()),
            'DOLocationID': pa.array([1 + (i * 7) % 263 for i in rows], pa.int64()),
            'payment_type': pa.array([1 + i % 4 for i in rows], pa.int64()),
            'fare_amount': pa.array([2.5 + i % 50 for i in rows], pa.float64()),
            'extra': pa.array([0.5 * (i % 2) for i in rows], pa.float64()),
            'mta_tax': pa.array([0.5 for _ in rows], pa.float64()),
            'tip_amount': pa.array([(i % 10) / 2 for i in rows], pa.float64()),
            'tolls_amount': pa.array([0.0 for _ in rows], pa.float64()),
            'improvement_surcharge': pa.array([0.3 for _ in rows], pa.float64()),
            'total_amount': pa.array([3.8 + i % 50 + (i % 10) / 2 for i in rows], pa.float64()),
        }
    )


def expected_groups(table: pa.Table) -> dict[tuple[int, int], int]:
    counts: dict[tuple[int, int], int] = {}
    for vendor, passengers in zip(table['VendorID'].to_pylist(), table['passenger_count'].to_pylist()):
        counts[(vendor, passengers)] = counts.get((vendor, passengers), 0) + 1
    return counts


def printed(athena, server, session_id: str, code: str) -> str:
    calc = run(athena, session_id, code, timeout=S3A_CALCULATION_TIMEOUT_S)
    assert calc['Status']['State'] == 'COMPLETED', (calc['Status'], stdout_of(server, calc))
    return stdout_of(server, calc)


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def no_pending_uploads(s3, bucket: str) -> bool:
    return s3.list_multipart_uploads(Bucket=bucket).get('Uploads', []) == []


def arrow_fs(endpoint: str, access_key: str = ACCESS_KEY_ID, secret_key: str = SECRET_ACCESS_KEY) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        access_key=access_key, secret_key=secret_key, endpoint_override=endpoint.split('://', 1)[1], scheme='http', region=REGION,
        allow_bucket_creation=False,
    )


# A session's configuration and environment as its code sees them, and the key S3A signs with.
SHOW_CONFIGURATION = '''
import json, os
hadoop = spark.sparkContext._jsc.hadoopConfiguration()
print(json.dumps({
    "accessKey": hadoop.get("fs.s3a.access.key"),
    "secretKey": hadoop.get("fs.s3a.secret.key"),
    "endpoint": hadoop.get("fs.s3a.endpoint"),
    "hadoop": {e.getKey(): e.getValue() for e in hadoop.iterator()},
    "spark": dict(spark.sparkContext.getConf().getAll()),
    "sql": {r.key: r.value for r in spark.sql("SET -v").collect()},
    "environment": dict(os.environ),
}))
'''

# Athena's example notebook's cells (spec: data-plane.md, "The example notebook"), with its YOUR_S3_BUCKET set.
EXAMPLE_CELLS = [
    '''file_name = "s3://athena-examples-us-east-1/notebooks/yellow_tripdata_2016-01.parquet"

taxi_df = (spark.read.format("parquet")
     .option("header", "true")
     .option("inferSchema", "true")
     .load(file_name))''',
    '''taxi1_df=taxi_df.groupBy("VendorID", "passenger_count").count()
taxi1_df.show()''',
    '''taxi1_df.coalesce(1).write.mode('overwrite').csv("s3://owlet-s3a-data/select_taxi")''',
    '''taxi_df.createOrReplaceTempView("taxis")

sumAmountsDF = spark.sql("SELECT DOLocationID, sum(total_amount) as sum_total_amount FROM taxis where DOLocationID < 25 Group by DOLocationID ORDER BY DOLocationID")
sumAmountsDF.show(50)''',
]

# The example notebook's catalog cells, after the cells above (spec: data-plane.md, steps 5 to 8), unchanged but for
# YOUR_S3_BUCKET; the cleanup cell's code is not published, so it drops what the notebook made and goes back to
# `default` (the cells after it run in the same session).
CATALOG_CELLS = [
    '''spark.sql("create database if not exists spark_demo_database")
spark.sql("show databases").show()''',
    '''spark.sql("use spark_demo_database")
taxi1_df.write.mode("overwrite").format("parquet").option("path","s3://owlet-s3a-data/select_taxi").saveAsTable("select_taxi_table")''',
    '''spark.sql("show tables").show()''',
    '''spark.sql("select * from select_taxi_table").show()''',
    '''spark.sql("drop table select_taxi_table")
spark.sql("use default")
spark.sql("drop database spark_demo_database")''',
]

# Every format through every scheme: overwrite, append, overwrite; the counts after the append and at the end.
FORMATS = '''
import json
counts = {}
cases = [("s3", f) for f in ("parquet", "csv", "json", "orc", "text")] + [(s, f) for s in ("s3a", "s3n") for f in ("parquet", "csv")]
for scheme, fmt in cases:
    path = f"{scheme}://owlet-s3a-data/formats/{scheme}/{fmt}"
    df = spark.range(50).selectExpr("cast(id as string) AS value") if fmt == "text" else spark.range(50).selectExpr("id", "cast(id * 2 as string) AS doubled")
    df.write.mode("overwrite").format(fmt).save(path)
    df.write.mode("append").format(fmt).save(path)
    appended = spark.read.format(fmt).load(path).count()
    df.write.mode("overwrite").format(fmt).save(path)
    counts[f"{scheme}/{fmt}"] = [appended, spark.read.format(fmt).load(path).count()]
print(json.dumps(counts))
'''

# LOCATION, sc.textFile, sc.addPyFile, sc.addFile, ADD JAR; files boto3 and pyarrow wrote; parquet for them to read.
PATHS = '''
import json
from pyspark import SparkFiles
spark.sql("CREATE TABLE s3a_events (id BIGINT, name STRING) USING parquet LOCATION 's3://owlet-s3a-data/tables/events/'")
spark.sql("INSERT INTO s3a_events VALUES (1, 'a'), (2, 'b')")
spark.sql("INSERT INTO s3a_events VALUES (3, 'c')")
inserted = spark.sql("SELECT count(*) AS n FROM s3a_events").first().n
spark.sql("INSERT OVERWRITE TABLE s3a_events VALUES (9, 'z')")
overwritten = [list(r) for r in spark.sql("SELECT * FROM s3a_events").collect()]
lines = sc.textFile("s3a://owlet-s3a-data/inputs/lines.txt").collect()
sc.addPyFile("s3://owlet-s3a-data/inputs/owlet_s3a_module.py")
import owlet_s3a_module
module_in_task = sc.parallelize([0], 1).map(lambda _: __import__("owlet_s3a_module").ANSWER).collect()
sc.addFile("s3n://owlet-s3a-data/inputs/greeting.txt")
greeting = open(SparkFiles.get("greeting.txt")).read()
greeting_in_task = sc.parallelize([0], 1).map(lambda _: open(__import__("pyspark").SparkFiles.get("greeting.txt")).read()).collect()
spark.sql("ADD JAR 's3://owlet-s3a-data/inputs/owlet-probe.jar'")
jars = [r[0] for r in spark.sql("LIST JARS").collect()]
from_boto3 = spark.read.option("header", "true").csv("s3://owlet-s3a-data/from-boto3/people.csv").count()
from_pyarrow = spark.read.parquet("s3a://owlet-s3a-data/from-pyarrow/numbers.parquet").agg({"n": "sum"}).first()[0]
spark.range(10).selectExpr("id", "id * id AS square").write.mode("overwrite").parquet("s3://owlet-s3a-data/from-spark/squares")
print(json.dumps({
    "inserted": inserted, "overwritten": overwritten, "lines": lines, "module": [owlet_s3a_module.ANSWER, *module_in_task],
    "greeting": [greeting, *greeting_in_task], "jars": jars, "fromBoto3": from_boto3, "fromPyarrow": from_pyarrow,
}))
'''

# A dynamic partition overwrite replaces the partitions it writes and keeps the others, on a file:// path (Spark's
# default commit protocol) and on s3:// (the same protocol: partitions staged under the table, then renamed into
# place; docs/s3.md). The session's code gets LOCAL_DIR first.
PARTITION_OVERWRITE = '''
import json
rows = {}
for name, path in (("file", LOCAL_DIR + "/partitioned"), ("s3", "s3://owlet-s3a-data/partitioned")):
    spark.range(10).selectExpr("id", "id % 2 AS k").write.mode("overwrite").partitionBy("k").parquet(path)
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    spark.range(3).selectExpr("id + 100 AS id", "0 AS k").write.mode("overwrite").partitionBy("k").parquet(path)
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "static")
    rows[name] = sorted([r.k, r.id] for r in spark.read.parquet(path).collect())
print(json.dumps(rows))
'''
PARTITIONS_AFTER_OVERWRITE = [[0, 100], [0, 101], [0, 102], [1, 1], [1, 3], [1, 5], [1, 7], [1, 9]]


def check_partition_overwrite(athena, server, s3, session_id: str, local_dir: Path, prefix: str) -> None:
    """PARTITION_OVERWRITE in a session: both paths replaced partition k=0 only; nothing staged is left on S3."""
    code = f'LOCAL_DIR = "file://{local_dir}"\n' + PARTITION_OVERWRITE.replace('owlet-s3a-data/partitioned', f'owlet-s3a-data/{prefix}')
    rows = last_json(printed(athena, server, session_id, code))
    assert rows == {'file': PARTITIONS_AFTER_OVERWRITE, 's3': PARTITIONS_AFTER_OVERWRITE}, rows
    keys = keys_under(s3, DATA, f'{prefix}/')
    assert not [k for k in keys if '.spark-staging' in k or '__magic' in k], keys
    assert {k[len(prefix) + 1:].split('/')[0] for k in keys if k.endswith('.parquet')} == {'k=0', 'k=1'}, keys


@pytest.fixture(scope='module')
def server(owlet_servers):
    # One pooled runner of the default engine: the first session takes it, so its S3 settings come at hand-over.
    with owlet_servers.serving(owlet_servers.start({'OWLET_WARM_POOL_SIZE': '1'})) as server:
        yield server


def put_inputs(endpoint: str, tmp_path: Path) -> pa.Table:
    """The example's taxi file by `aws s3 cp`; text, a module, a jar and a CSV by boto3; parquet by pyarrow."""
    s3 = make_s3_client(endpoint)
    for bucket in (EXAMPLES_BUCKET, DATA):
        s3.create_bucket(Bucket=bucket)
    taxis = taxi_table()
    local = tmp_path / 'yellow_tripdata_2016-01.parquet'
    pq.write_table(taxis, local)
    code, _, stderr = run_aws_cli(endpoint, 's3', 'cp', '--only-show-errors', str(local), f's3://{EXAMPLES_BUCKET}/{TAXI_KEY}')
    assert code == 0, stderr
    s3.put_object(Bucket=DATA, Key='inputs/lines.txt', Body=b'first\nsecond\nthird\n')
    s3.put_object(Bucket=DATA, Key='inputs/owlet_s3a_module.py', Body=b'ANSWER = 42\n')
    s3.put_object(Bucket=DATA, Key='inputs/greeting.txt', Body=b'hello from s3')
    jar = tmp_path / 'owlet-probe.jar'
    subprocess.run(['jar', 'cf', str(jar), '-C', str(tmp_path), 'yellow_tripdata_2016-01.parquet'], check=True, timeout=120)
    s3.upload_file(str(jar), DATA, 'inputs/owlet-probe.jar')
    s3.put_object(Bucket=DATA, Key='from-boto3/people.csv', Body=b'name,age\nada,36\ngrace,45\nalan,41\n')
    pq.write_table(pa.table({'n': list(range(1, 101))}), f'{DATA}/from-pyarrow/numbers.parquet', filesystem=arrow_fs(endpoint))
    return taxis


def test_session_code_reads_and_writes_s3_paths_with_a_key_pair_of_its_own(server, tmp_path):
    taxis = put_inputs(server.endpoint, tmp_path)
    athena = make_boto3_client(server.endpoint)
    s3 = make_s3_client(server.endpoint)
    wait_for(lambda: ready_pooled_runner(server.root), 'a ready pooled runner', SESSION_START_TIMEOUT_S)
    session_id = athena.start_session(WorkGroup='spark', EngineConfiguration={})['SessionId']
    status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
    assert status['State'] == 'IDLE', status
    # A session given a pooled runner has its directory linked to the runner's (session-manager.ts, adopt).
    assert (server.root / 'data' / 'sessions' / session_id).is_symlink(), 'the session should have come from the warm pool'

    # What session code can read holds the session's own key pair and no trace of the API's secret.
    shown = printed(athena, server, session_id, SHOW_CONFIGURATION)
    assert SECRET_ACCESS_KEY not in shown
    configuration = last_json(shown)
    assert configuration['accessKey'].startswith('OWLS') and configuration['accessKey'] != ACCESS_KEY_ID
    assert configuration['endpoint'] == server.endpoint.replace('localhost', '127.0.0.1')
    session_s3 = make_s3_client(server.endpoint, configuration['accessKey'], configuration['secretKey'])
    session_s3.put_object(Bucket=DATA, Key='by-session-key.txt', Body=b'signed by the session')
    assert s3.get_object(Bucket=DATA, Key='by-session-key.txt')['Body'].read() == b'signed by the session'

    # Athena's example notebook, cell by cell.
    outputs = [printed(athena, server, session_id, cell) for cell in EXAMPLE_CELLS]
    assert '|VendorID|passenger_count|count|' in outputs[1]
    written = keys_under(s3, DATA, 'select_taxi/')
    parts = [k for k in written if k.rsplit('/', 1)[-1].startswith('part-')]
    assert len(parts) == 1 and 'select_taxi/_SUCCESS' in written, written
    csv_rows = s3.get_object(Bucket=DATA, Key=parts[0])['Body'].read().decode().split()
    assert {tuple(map(int, row.split(',')[:2])): int(row.split(',')[2]) for row in csv_rows} == expected_groups(taxis)
    assert re.search(r'\|DOLocationID\|\s*sum_total_amount\|', outputs[3]), outputs[3]
    assert sum(1 for line in outputs[3].splitlines() if line.startswith('|') and line[1:].strip()[:1].isdigit()) == 24

    # The notebook's catalog cells: its database lands under the workgroup's output location, its table is an
    # external parquet table at s3://.../select_taxi, which stays when the table is dropped.
    catalog_outputs = [printed(athena, server, session_id, cell) for cell in CATALOG_CELLS[:4]]
    assert re.search(r'\|\s*spark_demo_database\s*\|', catalog_outputs[0]), catalog_outputs[0]
    assert re.search(r'\|\s*spark_demo_database\s*\|\s*select_taxi_table\s*\|\s*false\s*\|', catalog_outputs[2]), catalog_outputs[2]
    shown_rows = [line for line in catalog_outputs[3].splitlines() if re.match(r'^\|\s*\d', line)]
    assert {tuple(int(v) for v in line.strip('|').split('|')): 1 for line in shown_rows} == {(v, p, n): 1 for (v, p), n in expected_groups(taxis).items()}
    demo = last_json(printed(athena, server, session_id, '''import json
print(json.dumps({"database": [r[1] for r in spark.sql("DESCRIBE DATABASE spark_demo_database").collect() if r[0] == "Location"][0],
    "table": [r[1] for r in spark.sql("DESCRIBE TABLE EXTENDED select_taxi_table").collect() if r[0] == "Type"][0]}))'''))
    assert demo == {'database': 's3://owlet-results/spark/spark-warehouse/spark_demo_database.db', 'table': 'EXTERNAL'}, demo
    assert [k for k in keys_under(s3, DATA, 'select_taxi/') if k.endswith('.parquet')]
    printed(athena, server, session_id, CATALOG_CELLS[4])
    assert [k for k in keys_under(s3, DATA, 'select_taxi/') if k.endswith('.parquet')], 'an external table\'s data stays'

    # Every format, every scheme; each DataFrame write committed by S3A's magic committer.
    counts = last_json(printed(athena, server, session_id, FORMATS))
    assert counts == {case: [100, 50] for case in counts} and len(counts) == 9, counts
    success = json.loads(s3.get_object(Bucket=DATA, Key='formats/s3a/parquet/_SUCCESS')['Body'].read())
    assert success['committer'] == 'magic', success

    facts = last_json(printed(athena, server, session_id, PATHS))
    assert facts['inserted'] == 3 and facts['overwritten'] == [[9, 'z']]
    assert facts['lines'] == ['first', 'second', 'third']
    assert facts['module'] == [42, 42]
    assert facts['greeting'] == ['hello from s3', 'hello from s3']
    assert 's3://owlet-s3a-data/inputs/owlet-probe.jar' in facts['jars'], facts['jars']
    assert facts['fromBoto3'] == 3 and facts['fromPyarrow'] == 5050

    # What Spark wrote, read back by boto3 and opened by pyarrow.
    squares = [k for k in keys_under(s3, DATA, 'from-spark/squares/') if k.endswith('.parquet')]
    assert squares and all(s3.get_object(Bucket=DATA, Key=k)['Body'].read(4) == b'PAR1' for k in squares)
    table = pq.read_table(f'{DATA}/from-spark/squares', filesystem=arrow_fs(server.endpoint))
    assert sorted(table['square'].to_pylist()) == [i * i for i in range(10)]
    check_partition_overwrite(athena, server, s3, session_id, tmp_path, 'partitioned')
    # No upload of a committed or aborted task is left open.
    assert no_pending_uploads(s3, DATA)
    assert not [k for k in keys_under(s3, DATA, '') if '__magic' in k]

    # The session's key pair stops working once the session has ended.
    athena.terminate_session(SessionId=session_id)
    wait_session(athena, session_id, ('TERMINATED',), timeout=STATE_CHANGE_TIMEOUT_S)
    with pytest.raises(ClientError) as refused:
        session_s3.get_object(Bucket=DATA, Key='by-session-key.txt')
    assert refused.value.response['Error']['Code'] == 'InvalidAccessKeyId'
    assert s3.get_object(Bucket=DATA, Key='by-session-key.txt')['Body'].read() == b'signed by the session'


def test_the_spark_4_1_engine_reads_and_writes_s3_paths(server, tmp_path):
    athena = make_boto3_client(server.endpoint)
    s3 = make_s3_client(server.endpoint)
    try:
        s3.create_bucket(Bucket=DATA)
    except ClientError as error:
        assert error.response['Error']['Code'] == 'BucketAlreadyOwnedByYou'
    athena.create_work_group(Name='s3a-spark4', Configuration={'EngineVersion': {'SelectedEngineVersion': SPARK_4}, 'ExecutionRole': ROLE})
    session_id = athena.start_session(WorkGroup='s3a-spark4', EngineConfiguration={})['SessionId']
    status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
    assert status['State'] == 'IDLE', status
    code = '''
import json
spark.range(40).selectExpr("id", "id % 4 AS k").write.mode("overwrite").parquet("s3://owlet-s3a-data/spark4/parquet")
spark.range(40).selectExpr("id").write.mode("append").csv("s3a://owlet-s3a-data/spark4/csv")
print(json.dumps({
    "version": spark.version,
    "groups": spark.read.parquet("s3n://owlet-s3a-data/spark4/parquet").groupBy("k").count().count(),
    "csv": spark.read.csv("s3://owlet-s3a-data/spark4/csv").count(),
    "key": spark.sparkContext._jsc.hadoopConfiguration().get("fs.s3a.access.key"),
}))
'''
    shown = printed(athena, server, session_id, code)
    assert SECRET_ACCESS_KEY not in shown
    facts = last_json(shown)
    assert facts['version'].startswith('4.1') and facts['groups'] == 4 and facts['csv'] == 40
    assert facts['key'].startswith('OWLS')
    success = json.loads(s3.get_object(Bucket=DATA, Key='spark4/parquet/_SUCCESS')['Body'].read())
    assert success['committer'] == 'magic', success
    check_partition_overwrite(athena, server, s3, session_id, tmp_path, 'spark4/partitioned')

    # A managed table on s3:// through the catalog: made, read, dropped with its objects (docs/catalog.md).
    table = last_json(printed(athena, server, session_id, '''import json
spark.sql("CREATE DATABASE spark4_lake LOCATION 's3://owlet-s3a-data/spark4/lake.db'")
spark.range(7).selectExpr("id", "id % 3 AS k").write.partitionBy("k").saveAsTable("spark4_lake.t")
print(json.dumps({"count": spark.table("spark4_lake.t").count(), "partitions": spark.sql("SHOW PARTITIONS spark4_lake.t").count()}))'''))
    assert table == {'count': 7, 'partitions': 3}, table
    assert [k for k in keys_under(s3, DATA, 'spark4/lake.db/t/') if k.endswith('.parquet')]
    printed(athena, server, session_id, 'spark.sql("DROP TABLE spark4_lake.t")\nspark.sql("DROP DATABASE spark4_lake")')
    assert keys_under(s3, DATA, 'spark4/lake.db/') == []
    assert no_pending_uploads(s3, DATA)
    athena.terminate_session(SessionId=session_id)
    wait_session(athena, session_id, ('TERMINATED',), timeout=STATE_CHANGE_TIMEOUT_S)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.fixture
def moto_endpoint():
    """moto's S3-compatible server in a process of its own on 127.0.0.1, stopped by its pid."""
    port = free_port()
    process = subprocess.Popen(
        [str(ROOT / '.venv' / 'bin' / 'moto_server'), '-H', '127.0.0.1', '-p', str(port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent,
    )
    endpoint = f'http://127.0.0.1:{port}'
    try:
        def answers():
            try:
                with socket.create_connection(('127.0.0.1', port), timeout=1):
                    return True
            except OSError:
                return process.poll() is not None and pytest.fail('moto_server exited')

        wait_for(answers, 'moto_server to listen', 120)
        yield endpoint
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def test_one_setting_points_results_and_sessions_at_an_external_store(owlet_servers, moto_endpoint):
    external = make_s3_client(moto_endpoint, 'testing', 'testing')
    for bucket in ('owlet-results', 'external-data'):
        external.create_bucket(Bucket=bucket)
    settings = {
        'OWLET_S3_ENDPOINT': moto_endpoint,
        'OWLET_S3_REGION': REGION,
        'OWLET_S3_ACCESS_KEY_ID': 'testing',
        'OWLET_S3_SECRET_ACCESS_KEY': 'testing',
    }
    with owlet_servers.serving(owlet_servers.start(settings)) as server:
        athena = make_boto3_client(server.endpoint)
        session_id = athena.start_session(WorkGroup='spark', EngineConfiguration={})['SessionId']
        status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
        assert status['State'] == 'IDLE', status
        code = '''
spark.range(30).selectExpr("id", "id % 3 AS k").write.mode("overwrite").parquet("s3://external-data/written")
print(spark.read.parquet("s3a://external-data/written").count(), spark.sparkContext._jsc.hadoopConfiguration().get("fs.s3a.endpoint"))
'''
        calc = run(athena, session_id, code, timeout=S3A_CALCULATION_TIMEOUT_S)
        assert calc['Status']['State'] == 'COMPLETED', calc['Status']
        # The calculation's files are in the external store too.
        stdout_uri = calc['Result']['StdOutS3Uri']
        assert stdout_uri.startswith('s3://owlet-results/')
        bucket, key = stdout_uri[len('s3://'):].split('/', 1)
        assert external.get_object(Bucket=bucket, Key=key)['Body'].read().decode() == f'30 {moto_endpoint}\n'
        parts = [k for k in keys_under(external, 'external-data', 'written/') if k.endswith('.parquet')]
        assert parts, 'the parquet files are in the external store'
        # A database without LOCATION is under the workgroup's output location in the external store, and the
        # metastore deletes a dropped managed table's objects there (docs/catalog.md).
        table = 'spark/spark-warehouse/ext_lake.db/t/'
        calc = run(athena, session_id, 'spark.sql("CREATE DATABASE ext_lake")\nspark.range(5).write.saveAsTable("ext_lake.t")', timeout=S3A_CALCULATION_TIMEOUT_S)
        assert calc['Status']['State'] == 'COMPLETED', calc['Status']
        assert [k for k in keys_under(external, 'owlet-results', table) if k.endswith('.parquet')]
        calc = run(athena, session_id, 'spark.sql("DROP TABLE ext_lake.t")', timeout=S3A_CALCULATION_TIMEOUT_S)
        assert calc['Status']['State'] == 'COMPLETED', calc['Status']
        assert keys_under(external, 'owlet-results', table) == []
        # Nothing of it went to Owlet's own store.
        with pytest.raises(ClientError):
            make_s3_client(server.endpoint).head_bucket(Bucket='external-data')
        athena.terminate_session(SessionId=session_id)
        wait_session(athena, session_id, ('TERMINATED',), timeout=STATE_CHANGE_TIMEOUT_S)


# Enough rows that the write is still under way when the server is killed; the kill waits for a sign of it.
CRASH_WRITE = '''
(spark.range(0, 6_000_000, numPartitions=12)
    .selectExpr("id", "sha2(cast(id as string), 256) AS digest")
    .write.mode("overwrite").parquet("s3://owlet-s3a-data/crash/table"))
'''


def test_a_server_killed_during_a_spark_write_leaves_nothing_partial(owlet_servers):
    keep_sessions = {'OWLET_TERMINATE_SESSIONS_ON_EXIT': 'false'}
    port = free_port()
    first = owlet_servers.start(keep_sessions, port=port)
    root = first.root
    athena = make_boto3_client(first.endpoint)
    s3 = make_s3_client(first.endpoint)
    s3.create_bucket(Bucket=DATA)
    session_id = athena.start_session(WorkGroup='spark', EngineConfiguration={})['SessionId']
    status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
    assert status['State'] == 'IDLE', status
    calc_id = athena.start_calculation_execution(SessionId=session_id, CodeBlock=CRASH_WRITE)['CalculationExecutionId']
    # The write is under way once its tasks have started multipart uploads (the magic committer's pending files).
    wait_for(lambda: s3.list_multipart_uploads(Bucket=DATA).get('Uploads'), 'the write to start its uploads', S3A_CALCULATION_TIMEOUT_S)
    first.kill()
    second = owlet_servers.start(keep_sessions, root=root, port=port)
    try:
        athena = make_boto3_client(second.endpoint)
        s3 = make_s3_client(second.endpoint)
        calc = wait_calculation(athena, calc_id, S3A_CALCULATION_TIMEOUT_S)
        state = calc['Status']['State']
        files = keys_under(s3, DATA, 'crash/table/')
        data_files = [k for k in files if k.endswith('.parquet')]
        print(f'\nSpark write through a SIGKILLed server: {state}, {len(data_files)} data files visible')
        if state == 'COMPLETED':
            # The write outlived the restart (S3A retried): then it is whole.
            assert 'crash/table/_SUCCESS' in files
            table = pq.read_table(f'{DATA}/crash/table', filesystem=arrow_fs(second.endpoint))
            assert table.num_rows == 6_000_000
        else:
            # Nothing of a failed write is visible: its uploads were never completed.
            assert data_files == [], data_files
        # Uploads the job could not abort while the server was down stay open and invisible, as on S3 (where a
        # lifecycle rule ends them); aborting them leaves the prefix as it is.
        left_open = s3.list_multipart_uploads(Bucket=DATA).get('Uploads', [])
        print(f'uploads left open: {len(left_open)}')
        for upload in left_open:
            s3.abort_multipart_upload(Bucket=DATA, Key=upload['Key'], UploadId=upload['UploadId'])
        assert keys_under(s3, DATA, 'crash/table/') == files
        assert no_pending_uploads(s3, DATA)
        s3.put_object(Bucket=DATA, Key='after-restart.txt', Body=b'ok')
        assert s3.get_object(Bucket=DATA, Key='after-restart.txt')['Body'].read() == b'ok'
        after = run(athena, session_id, 'print(spark.range(5).count())')
        assert after['Status']['State'] == 'COMPLETED' and stdout_of(second, after) == '5\n'
        athena.terminate_session(SessionId=session_id)
        wait_session(athena, session_id, ('TERMINATED',), timeout=STATE_CHANGE_TIMEOUT_S)
    finally:
        owlet_servers.stop(second)


# The other branch, made certain: S3A gives up at once (one SDK attempt, one S3A retry, 100 ms apart; names
# that Hadoop 3.3.4 and 3.4.2 both define in org.apache.hadoop.fs.s3a.Constants) and the server stays down until
# the write has failed. The path first holds OLD_ROWS rows; the overwrite's last task waits at a gate (a file the
# test creates) until the server is gone, so that every other task has written its file (an upload left
# uncompleted by the magic committer) before the kill, whatever order the tasks run in. GATE comes first.
FAILS_FAST = {
    'spark.hadoop.fs.s3a.attempts.maximum': '1',
    'spark.hadoop.fs.s3a.retry.limit': '1',
    'spark.hadoop.fs.s3a.retry.interval': '100ms',
}
OLD_ROWS = 10
GATED_PARTITIONS = 4
GATED_OVERWRITE = '''
import os, time
spark.range(OLD_ROWS).selectExpr("id", "'old' AS digest").write.mode("overwrite").parquet("s3://owlet-s3a-data/crash-failed/table")

def last_waits(index, rows):
    if index == PARTITIONS - 1:
        open(os.path.join(GATE, "waiting"), "w").close()
        while not os.path.exists(os.path.join(GATE, "open")):
            time.sleep(0.2)
    return rows

rows = spark.range(0, 40_000, numPartitions=PARTITIONS).selectExpr("id", "sha2(cast(id as string), 256) AS digest")
gated = spark.createDataFrame(rows.rdd.mapPartitionsWithIndex(last_waits), rows.schema)
gated.write.mode("overwrite").parquet("s3://owlet-s3a-data/crash-failed/table")
'''
# What a reader of the path finds, in the same session once the server is back (a schema given, so that a
# directory with no data files reads as no rows rather than failing to infer one).
READ_AFTER_FAILURE = '''
try:
    print("rows", spark.read.schema("id BIGINT, digest STRING").parquet("s3://owlet-s3a-data/crash-failed/table").count())
except Exception as error:
    print("unreadable", type(error).__name__, str(error).splitlines()[0][:300])
'''
REWRITE_AFTER_FAILURE = '''
spark.range(1000).selectExpr("id", "'new' AS digest").write.mode("overwrite").parquet("s3://owlet-s3a-data/crash-failed/table")
print(spark.read.parquet("s3://owlet-s3a-data/crash-failed/table").count())
'''


def listed_data_files(keys: list[str], prefix: str) -> list[str]:
    """The files under `prefix` that Spark and Hive list as data: none of their path names starts with `_` or
    `.` (HadoopFSUtils's filter), which hides `_SUCCESS` and the magic committer's `__magic` directories; and
    not directory markers (empty objects ending in `/`, which Hadoop 3.4's S3A keeps by default)."""
    return [
        k for k in keys if not k.endswith('/') and not any(part[:1] in ('_', '.') for part in k[len(prefix):].split('/'))
    ]


def calculation_status_file(root: Path, calc_id: str) -> dict | None:
    """The outcome the runner leaves in the calculation's directory (status.json) when it ends, server or not."""
    for path in root.rglob('status.json'):
        if path.parent.name == calc_id:
            return json.loads(path.read_text())
    return None


@pytest.mark.parametrize('engine', ['spark-3.5', 'spark-4.1'])
def test_a_spark_write_that_fails_while_the_server_is_down_leaves_nothing_partial(owlet_servers, tmp_path, engine):
    keep_sessions = {'OWLET_TERMINATE_SESSIONS_ON_EXIT': 'false'}
    port = free_port()
    first = owlet_servers.start(keep_sessions, port=port)
    root = first.root
    athena = make_boto3_client(first.endpoint)
    s3 = make_s3_client(first.endpoint)
    s3.create_bucket(Bucket=DATA)
    work_group = 'spark'
    if engine == 'spark-4.1':
        work_group = 's3a-crash-spark4'
        athena.create_work_group(Name=work_group, Configuration={'EngineVersion': {'SelectedEngineVersion': SPARK_4}, 'ExecutionRole': ROLE})
    session_id = athena.start_session(WorkGroup=work_group, EngineConfiguration={'SparkProperties': FAILS_FAST})['SessionId']
    status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
    assert status['State'] == 'IDLE', status
    code = f'GATE = "{tmp_path}"\nOLD_ROWS = {OLD_ROWS}\nPARTITIONS = {GATED_PARTITIONS}\n' + GATED_OVERWRITE
    calc_id = athena.start_calculation_execution(SessionId=session_id, CodeBlock=code)['CalculationExecutionId']
    # Every task but the gated one has committed (the magic committer's task commit PUTs a .pendingset naming
    # the task's uploads, which it leaves uncompleted), and the gated one waits.
    prefix = 'crash-failed/table/'
    wait_for(
        lambda: (tmp_path / 'waiting').exists()
        and len([k for k in keys_under(s3, DATA, prefix) if k.endswith('.pendingset')]) == GATED_PARTITIONS - 1,
        'the ungated tasks to commit and the last task to wait', S3A_CALCULATION_TIMEOUT_S,
    )
    pending_before = sorted(u['Key'] for u in s3.list_multipart_uploads(Bucket=DATA).get('Uploads', []))
    assert len(pending_before) >= GATED_PARTITIONS - 1, pending_before
    first.kill()
    (tmp_path / 'open').touch()
    # The runner records the calculation's end in its directory while no server listens.
    ended = wait_for(lambda: calculation_status_file(root, calc_id), 'the write to fail with the server down', S3A_CALCULATION_TIMEOUT_S)
    assert ended['state'] == 'FAILED', ended
    print(f'\nthe overwrite failed with the server down: {ended.get("reason")}')

    second = owlet_servers.start(keep_sessions, root=root, port=port)
    try:
        athena = make_boto3_client(second.endpoint)
        s3 = make_s3_client(second.endpoint)
        calc = wait_calculation(athena, calc_id, STATE_CHANGE_TIMEOUT_S)
        assert calc['Status']['State'] == 'FAILED', calc['Status']
        # Nothing of the failed write is visible: no data file, no _SUCCESS. Spark's overwrite deleted the old
        # rows before its job started (InsertIntoHadoopFsRelationCommand), so they are gone too, as they would
        # be on S3 with any committer.
        keys = keys_under(s3, DATA, prefix)
        print(f'keys left under {prefix}: {keys}')
        assert listed_data_files(keys, prefix) == [], keys
        assert f'{prefix}_SUCCESS' not in keys
        # The uploads the failed tasks started are still open (the job's abort could not reach the server) and
        # invisible: no object at their keys.
        left_open = s3.list_multipart_uploads(Bucket=DATA).get('Uploads', [])
        print(f'uploads left open after the restart: {len(left_open)} (before the kill: {len(pending_before)})')
        assert sorted(u['Key'] for u in left_open) == pending_before, (left_open, pending_before)
        for upload in left_open:
            with pytest.raises(ClientError) as missing:
                s3.head_object(Bucket=DATA, Key=upload['Key'])
            assert missing.value.response['Error']['Code'] == '404'
        # The session lives on: a reader in it finds no rows (or no path, when nothing at all is left under it).
        found = printed(athena, second, session_id, READ_AFTER_FAILURE).strip()
        print(f'Spark reading the path after the failed overwrite: {found}')
        if keys:
            assert found == 'rows 0', found
        else:
            assert found.startswith('unreadable AnalysisException'), found
        # The next write of the path succeeds, and its job's cleanup aborts the uploads under it that the failed
        # job left open (fs.s3a.committer.abort.pending.uploads: true in the core-default.xml of Hadoop 3.3.4 and
        # of 3.4.2; 3.4.2's Constants fallback is false, but core-default.xml wins).
        assert printed(athena, second, session_id, REWRITE_AFTER_FAILURE).strip() == '1000'
        assert no_pending_uploads(s3, DATA), s3.list_multipart_uploads(Bucket=DATA)['Uploads']
        assert not [k for k in keys_under(s3, DATA, prefix) if '__magic' in k]
        athena.terminate_session(SessionId=session_id)
        wait_session(athena, session_id, ('TERMINATED',), timeout=STATE_CHANGE_TIMEOUT_S)
    finally:
        owlet_servers.stop(second)
