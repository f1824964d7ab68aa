"""One runner with Spark up: Athena's magics (docs/runner-protocol.md, "Magics") and the rich outputs of the result
document (docs/result-document.md).

The tests share the runner; each leaves the namespace as it needs it. matplotlib and pandas are not in the
project's virtualenv: their tests skip when they cannot be imported, and a stand-in pyplot exercises what the
runner does with figures.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable

import pytest

from runner_harness import SPARK_VERSION, Calculation, RunnerProcess

# Every kind of value DataFrame.show() formats its own way, and a row of NULLs.
TYPED_ROWS_SQL = r"""
SELECT 1 AS i, -2.5D AS d, 12345678.9D AS big, CAST(0.1 AS FLOAT) AS f,
  CAST('12345678901.50' AS DECIMAL(20,2)) AS dec, true AS t, 'short' AS s,
  'a string longer than twenty characters' AS long, 'tab\there\nnewline' AS esc, '日本語テキスト' AS ja,
  '😀 emoji' AS emoji, DATE'2024-01-02' AS dt, TIMESTAMP'2024-01-02 03:04:05.120' AS ts,
  ARRAY(1, NULL, 3) AS arr, MAP('a', 1, 'b', NULL) AS m, NAMED_STRUCT('x', 1, 'y', 'z', 'n', CAST(NULL AS INT)) AS st,
  X'0102AB' AS bin, ARRAY(NAMED_STRUCT('a', ARRAY(X'01')), NULL) AS nested, CAST('NaN' AS DOUBLE) AS nan,
  INTERVAL '1 2:03:04' DAY TO SECOND AS dts, INTERVAL '1-2' YEAR TO MONTH AS ym, PARSE_JSON('{"a":1}') AS v,
  1 AS i
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, 2
"""
SPARK_3 = SPARK_VERSION.startswith("3.")
if SPARK_3:
    # Spark 3.5 has no VARIANT type (PARSE_JSON came with Spark 4.0).
    TYPED_ROWS_SQL = TYPED_ROWS_SQL.replace(""" PARSE_JSON('{"a":1}') AS v,""", "").replace("NULL, NULL, 2", "NULL, 2")


@pytest.fixture(scope="module")
def runner(start_runner: Callable[..., RunnerProcess], config_factory: Callable[..., dict[str, Any]]) -> RunnerProcess:
    process = start_runner(config_factory(workGroup="primary"))
    process.wait_ready()
    return process


def completed(runner: RunnerProcess, code: str) -> Calculation:
    calculation = runner.execute(code)
    assert calculation.state == "COMPLETED", calculation.stderr
    return calculation


def failed(runner: RunnerProcess, code: str) -> Calculation:
    calculation = runner.execute(code)
    assert calculation.state == "FAILED", (calculation.stdout, calculation.result)
    return calculation


def outputs(calculation: Calculation) -> list[dict[str, Any]]:
    return [output["data"] for output in calculation.result["outputs"]]


# -- rich output -------------------------------------------------------------------------------------------------


def test_the_documented_example(runner: RunnerProcess) -> None:
    calculation = completed(
        runner,
        'df = spark.sql("SELECT id, CAST(id * 1.5 AS DOUBLE) AS x, IF(id = 1, NULL, \'a\') AS s FROM range(3)")\n'
        'display("three rows:")\n'
        "df",
    )
    assert calculation.result == {
        "version": 1,
        "outputs": [
            {"data": {"text/plain": "'three rows:'"}},
            {
                "data": {
                    "text/plain": "+---+---+----+\n| id|  x|   s|\n+---+---+----+\n|  0|0.0|   a|\n|  1|1.5|NULL|\n"
                    "|  2|3.0|   a|\n+---+---+----+\n",
                    "text/html": "<table border='1'>\n<tr><th>id</th><th>x</th><th>s</th></tr>\n"
                    "<tr><td>0</td><td>0.0</td><td>a</td></tr>\n<tr><td>1</td><td>1.5</td><td>NULL</td></tr>\n"
                    "<tr><td>2</td><td>3.0</td><td>a</td></tr>\n</table>\n",
                    "application/json": {
                        "schema": [
                            {"name": "id", "type": "bigint"},
                            {"name": "x", "type": "double"},
                            {"name": "s", "type": "string"},
                        ],
                        "rows": [[0, 0.0, "a"], [1, 1.5, None], [2, 3.0, "a"]],
                        "truncated": False,
                        "rowLimit": 1000,
                    },
                },
                "lastExpression": True,
            },
        ],
    }


def test_a_dataframes_text_is_what_show_prints_for_every_kind_of_value(runner: RunnerProcess) -> None:
    calculation = completed(
        runner,
        "spark.conf.set('spark.sql.session.timeZone', 'UTC')\n"
        f'typed = spark.sql(r"""{TYPED_ROWS_SQL}""")\n'
        "typed.show()\n"
        "typed",
    )
    [table] = outputs(calculation)
    assert calculation.stdout == table["text/plain"] + "\n"
    assert "<td>[1, NULL, 3]</td>" in table["text/html"]
    assert "<td>a string longer than twenty characters</td>" in table["text/html"]

    document = table["application/json"]
    names = [column["name"] for column in document["schema"]]
    assert names[-1] == "i", "two columns of the same name are both kept"
    assert document["schema"][names.index("dec")] == {"name": "dec", "type": "decimal(20,2)"}
    assert document["schema"][names.index("m")] == {"name": "m", "type": "map<string,int>"}
    values = dict(zip(names[:-1], document["rows"][0]))
    expected = {
        "i": 1,
        "d": -2.5,
        "big": 12345678.9,
        "f": 0.1,
        "dec": 12345678901.5,
        "t": True,
        "s": "short",
        "long": "a string longer than twenty characters",
        "esc": "tab\there\nnewline",
        "ja": "日本語テキスト",
        "emoji": "😀 emoji",
        "dt": "2024-01-02",
        "ts": "2024-01-02T03:04:05.120Z",
        "arr": [1, None, 3],
        "m": {"a": 1, "b": None},
        "st": {"x": 1, "y": "z", "n": None},
        "bin": base64.b64encode(b"\x01\x02\xab").decode("ascii"),
        "nested": [{"a": [base64.b64encode(b"\x01").decode("ascii")]}, None],
        "nan": "NaN",
        "dts": "INTERVAL '1 02:03:04' DAY TO SECOND",
        "ym": "INTERVAL '1-2' YEAR TO MONTH",
        "v": {"a": 1},
    }
    if SPARK_3:
        del expected["v"]
    assert values == expected
    assert document["rows"][0][-1] == 1
    assert document["rows"][1] == [None] * (len(names) - 1) + [2]


def test_a_large_dataframe_is_capped_and_says_so(runner: RunnerProcess) -> None:
    calculation = completed(runner, "large = spark.range(1005)\nlarge.show(1000)\nlarge")
    [table] = outputs(calculation)
    # Spark 3.5's show() ends its footer with a newline of its own, which print doubles.
    assert calculation.stdout == table["text/plain"] + ("\n\n" if SPARK_3 else "\n")
    assert table["text/plain"].endswith("|999|\n+---+\nonly showing top 1000 rows")
    assert table["text/html"].endswith("<tr><td>999</td></tr>\n</table>\n<p>only showing top 1000 rows</p>\n")
    document = table["application/json"]
    assert document["truncated"] is True
    assert document["rowLimit"] == 1000
    assert document["rows"] == [[index] for index in range(1000)]


def test_a_dataframe_without_columns(runner: RunnerProcess) -> None:
    calculation = completed(runner, "spark.sql('CREATE OR REPLACE TEMPORARY VIEW no_columns AS SELECT 1')")
    assert outputs(calculation) == [
        {
            "text/plain": "++\n||\n++\n++\n",
            "text/html": "<table border='1'>\n<tr></tr>\n</table>\n",
            "application/json": {"schema": [], "rows": [], "truncated": False, "rowLimit": 1000},
        }
    ]


def test_a_dataframe_whose_query_fails_fails_the_calculation_and_keeps_earlier_outputs(runner: RunnerProcess) -> None:
    # ANSI mode makes 1/0 an error on Spark 3.5 too (Spark 4 has it on by default).
    calculation = failed(
        runner, "display('before')\nspark.conf.set('spark.sql.ansi.enabled', 'true')\nspark.range(1).selectExpr('1/0 AS x')"
    )
    completed(runner, "spark.conf.unset('spark.sql.ansi.enabled')")
    assert calculation.finished["reason"].startswith(
        "pyspark.errors.exceptions.captured.ArithmeticException: [DIVIDE_BY_ZERO]"
    )
    assert outputs(calculation) == [{"text/plain": "'before'"}]
    assert "owlet_runner" not in calculation.stderr


def test_objects_describe_their_own_forms(runner: RunnerProcess) -> None:
    calculation = completed(
        runner,
        "class Chart:\n"
        "    def __repr__(self): return 'Chart()'\n"
        "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
        "        return {'text/html': '<svg/>', 'application/vnd.chart+json': {'bars': [1, 2]}}, {}\n"
        "    def _repr_png_(self): return b'\\x89PNG'\n"
        "    def _repr_markdown_(self): raise ValueError('broken')\n"
        "Chart()",
    )
    assert outputs(calculation) == [
        {
            "text/plain": "Chart()",
            "text/html": "<svg/>",
            "application/vnd.chart+json": {"bars": [1, 2]},
            "image/png": base64.b64encode(b"\x89PNG").decode("ascii"),
        }
    ]


def test_pandas_dataframes_show_their_own_html(runner: RunnerProcess) -> None:
    pytest.importorskip("pandas")
    calculation = completed(runner, "import pandas as pd\nframe = pd.DataFrame({'a': [1, 2]})\n%table frame\nframe")
    shown, value = outputs(calculation)
    assert shown == value
    assert "<table" in value["text/html"]
    assert value["text/plain"] == "   a\n0  1\n1  2"


def test_matplotlib_figures_become_images_and_are_closed(runner: RunnerProcess) -> None:
    pytest.importorskip("matplotlib")
    calculation = completed(
        runner,
        "import matplotlib\n"
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\n"
        "ax.plot([1, 2, 3])\n"
        "display(fig)\n"
        "plt.figure().add_subplot().plot([3, 2])\n"
        "%matplot plt\n"
        "plt.figure()\n"
        "matplotlib.get_backend()",
    )
    # display(fig); %matplot's figure; the last value; the figure left open. The displayed figure, unchanged
    # and still open, is not shown again.
    shown, matplot, backend, left_open = outputs(calculation)
    assert backend == {"text/plain": "'Agg'"}
    assert shown["text/plain"] == "<Figure size 640x480 with 1 Axes>"
    assert matplot["text/plain"] == "<Figure size 640x480 with 1 Axes>"
    assert left_open["text/plain"] == "<Figure size 640x480 with 0 Axes>"
    for output in (shown, matplot, left_open):
        assert base64.b64decode(output["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert completed(runner, "plt.get_fignums()").result["outputs"] == [{"data": {"text/plain": "[]"}, "lastExpression": True}]


def test_figures_left_open_are_shown_once_and_closed(runner: RunnerProcess) -> None:
    """With a stand-in pyplot (the project's virtualenv has no matplotlib): the runner finds figures the way it
    finds matplotlib's, through sys.modules."""
    completed(
        runner,
        "import sys, types\n"
        "saved_modules = {name: sys.modules.get(name) for name in ('matplotlib.figure', 'matplotlib.pyplot')}\n"
        "class Figure:\n"
        "    def __init__(self, number): self.number, self.lines = number, 0\n"
        "    def __repr__(self): return f'<Figure {self.number}>'\n"
        "    def savefig(self, buffer, format, bbox_inches): buffer.write(f'png {self.number}/{self.lines}'.encode())\n"
        "fake_figure = types.ModuleType('matplotlib.figure')\n"
        "fake_figure.Figure = Figure\n"
        "fake_pyplot = types.ModuleType('matplotlib.pyplot')\n"
        "fake_pyplot.open = {}\n"
        "def new_figure():\n"
        "    figure = Figure(len(fake_pyplot.open) + 1)\n"
        "    fake_pyplot.open[figure.number] = figure\n"
        "    return figure\n"
        "fake_pyplot.new_figure = new_figure\n"
        "fake_pyplot.get_fignums = lambda: sorted(fake_pyplot.open)\n"
        "fake_pyplot.figure = lambda number: fake_pyplot.open[number]\n"
        "fake_pyplot.gcf = lambda: fake_pyplot.open[max(fake_pyplot.open)]\n"
        "def close(which):\n"
        "    if which == 'all': fake_pyplot.open.clear()\n"
        "    else: fake_pyplot.open.pop(which.number, None)\n"
        "fake_pyplot.close = close\n"
        "sys.modules.update({'matplotlib.figure': fake_figure, 'matplotlib.pyplot': fake_pyplot})\n",
    )
    try:

        def image(text: str) -> str:
            return base64.b64encode(text.encode()).decode("ascii")

        calculation = completed(
            runner,
            "plt = fake_pyplot\n"
            "first, second, third = plt.new_figure(), plt.new_figure(), plt.new_figure()\n"
            "display(first, second)\n"
            "second.lines += 1\n"
            "'value'",
        )
        assert outputs(calculation) == [
            {"text/plain": "<Figure 1>", "image/png": image("png 1/0")},
            {"text/plain": "<Figure 2>", "image/png": image("png 2/0")},
            {"text/plain": "'value'"},
            # The first is unchanged since display(): not shown again. The second changed.
            {"text/plain": "<Figure 2>", "image/png": image("png 2/1")},
            {"text/plain": "<Figure 3>", "image/png": image("png 3/0")},
        ]
        calculation = completed(runner, "print(plt.get_fignums())\nplt.new_figure()\n%matplot plt\nplt.get_fignums()")
        assert calculation.stdout == "[]\n"
        assert outputs(calculation) == [
            {"text/plain": "<Figure 1>", "image/png": image("png 1/0")},
            {"text/plain": "[]"},
        ]
        failing = failed(runner, "plt.new_figure()\n%matplot 42")
        assert failing.stderr == "UsageError: %matplot needs a matplotlib figure or plt, not int.\n"
        # A failed calculation shows its open figures too.
        assert outputs(failing) == [{"text/plain": "<Figure 1>", "image/png": image("png 1/0")}]
    finally:
        completed(
            runner,
            "for name, module in saved_modules.items():\n"
            "    if module is None: sys.modules.pop(name, None)\n"
            "    else: sys.modules[name] = module\n",
        )


# -- magics ------------------------------------------------------------------------------------------------------

SQL = "SELECT id, repeat('x', id) AS text FROM range(60)"


def test_sql_magic_prints_what_show_prints_with_athenas_defaults(runner: RunnerProcess) -> None:
    shown = completed(runner, f'spark.sql("{SQL}").show()')
    magic = completed(runner, f"%%sql\n{SQL}\n")
    assert magic.stdout == shown.stdout
    assert "only showing top 20 rows" in magic.stdout
    assert magic.result["outputs"] == []


def test_sql_magic_rows_width_and_layout_can_be_set(runner: RunnerProcess) -> None:
    for options, show_arguments in [
        ("--limit 50 --truncate 40", "50, 40"),
        ("-n 3 -t 0", "3, 0"),
        ("-n 2 --vertical", "2, 20, True"),
    ]:
        shown = completed(runner, f'spark.sql("{SQL}").show({show_arguments})')
        magic = completed(runner, f"%%sql {options}\n{SQL}")
        assert magic.stdout == shown.stdout, options
    kept = completed(runner, f"%%sql --limit 1 --dataframe kept_rows\n{SQL}\n;")
    assert kept.stdout.startswith("+---+----+\n| id|text|\n")
    assert completed(runner, "kept_rows.count()").result["outputs"] == [{"data": {"text/plain": "60"}, "lastExpression": True}]


@pytest.mark.parametrize(
    ("code", "stderr"),
    [
        ("%%sql --limit -1\nSELECT 1", "UsageError: %%sql: argument -n/--limit: -1 is negative\n"),
        (
            "%%sql --truncate wide\nSELECT 1",
            "UsageError: %%sql: argument -t/--truncate: 'wide' is not a whole number\n",
        ),
        ("%%sql --colour\nSELECT 1", "UsageError: %%sql: unrecognized arguments: --colour\n"),
        ("%%sql\n\n", "UsageError: %%sql needs a SQL statement on the lines after %%sql.\n"),
    ],
)
def test_sql_magic_usage_errors(runner: RunnerProcess, code: str, stderr: str) -> None:
    calculation = failed(runner, code)
    assert calculation.stderr == stderr
    assert calculation.finished["reason"] == stderr.rstrip("\n")


def test_a_failing_sql_statement_has_a_traceback_from_the_magic_line(runner: RunnerProcess) -> None:
    calculation = failed(runner, "\n%%sql\nSELECT nope")
    assert calculation.finished["reason"].startswith("pyspark.errors.exceptions.captured.AnalysisException")
    assert calculation.stderr.startswith('  File "<stdin>", line 2, in <module>\n  File "')
    assert "owlet_runner" not in calculation.stderr


def test_line_magics_keep_the_line_numbers_of_the_code_around_them(runner: RunnerProcess) -> None:
    calculation = failed(runner, "x = 1\n%session_id\n\nfoobar\n")
    assert calculation.stdout == f"{runner.config['sessionId']}\n"
    assert calculation.stderr == '  File "<stdin>", line 4, in <module>\nNameError: name \'foobar\' is not defined\n'


def test_an_unknown_magic_fails_before_anything_runs(runner: RunnerProcess) -> None:
    calculation = failed(runner, "ran_before_the_magic = True\n%foo\n")
    assert calculation.finished["reason"] == "UsageError: Line magic function `%foo` not found."
    assert calculation.stderr == "UsageError: Line magic function `%foo` not found.\n"
    assert completed(runner, "'ran_before_the_magic' in globals()").result["outputs"] == [
        {"data": {"text/plain": "False"}, "lastExpression": True}
    ]
    assert failed(runner, "%%foo\nx").stderr == "UsageError: Cell magic `%%foo` not found.\n"


def test_a_bad_magic_argument_is_a_syntax_error_on_the_users_line(runner: RunnerProcess) -> None:
    calculation = failed(runner, "x = 1\n%table df[\n")
    assert calculation.finished["reason"] == "SyntaxError: '[' was never closed"
    assert calculation.stderr.startswith('  File "<stdin>", line 2\n    %table df[\n')
    assert calculation.stderr.endswith("^\nSyntaxError: '[' was never closed\n")


def test_line_magics_run_inside_blocks_and_percent_lines_in_strings_are_text(runner: RunnerProcess) -> None:
    calculation = completed(
        runner,
        "def show(frame):\n"
        "    %table frame\n"
        "text = '''\n"
        "%not a magic\n"
        "'''\n"
        "show(spark.range(1))\n"
        "text",
    )
    table, text = outputs(calculation)
    assert table["application/json"]["rows"] == [[0]]
    assert text == {"text/plain": "'\\n%not a magic\\n'"}


def test_table_magic_usage_errors(runner: RunnerProcess) -> None:
    assert failed(runner, "%table 42").stderr == "UsageError: %table needs a DataFrame, not int.\n"
    assert failed(runner, "%table").stderr == "UsageError: %table takes one DataFrame: %table df\n"


def test_session_magics(runner: RunnerProcess) -> None:
    session_id = runner.config["sessionId"]
    assert completed(runner, "%session_id").stdout == f"{session_id}\n"
    status = completed(runner, "%status").stdout.splitlines()
    assert status[:4] == [f"Session ID: {session_id}", "State: BUSY", "Workgroup: primary", f"Spark version: {SPARK_VERSION}"]
    assert status[4].startswith("Session start time: 20")
    sessions = completed(runner, "%list_sessions").stdout.splitlines()
    assert sessions[1].startswith(f"{session_id} ")
    assert "ListSessions" in sessions[2]


def test_set_log_level(runner: RunnerProcess) -> None:
    root_level = "sc._jvm.org.apache.logging.log4j.LogManager.getRootLogger().getLevel().toString()"
    assert completed(runner, f"%set_log_level INFO\n{root_level}").result["outputs"] == [
        {"data": {"text/plain": "'INFO'"}, "lastExpression": True}
    ]
    assert completed(runner, f"%set_log_level WARNING\n{root_level}").result["outputs"] == [
        {"data": {"text/plain": "'WARN'"}, "lastExpression": True}
    ]
    for level in ("debug", "'DEBUG'", "", "VERBOSE"):
        calculation = failed(runner, f"%set_log_level {level}")
        assert calculation.stderr.startswith("UsageError: Invalid log level"), level


def test_env_magic(runner: RunnerProcess) -> None:
    calculation = completed(runner, "%env OWLET_TEST_VARIABLE=forty two\n%env OWLET_TEST_VARIABLE")
    assert calculation.stdout == "env: OWLET_TEST_VARIABLE=forty two\n"
    assert calculation.result["outputs"] == [{"data": {"text/plain": "'forty two'"}, "lastExpression": True}]
    listed = completed(runner, "%env OWLET_TEST_TOKEN visible\n%env")
    environment = eval(outputs(listed)[0]["text/plain"])  # noqa: S307 - the repr of a dict of strings
    assert environment["OWLET_TEST_VARIABLE"] == "forty two"
    assert environment["OWLET_TEST_TOKEN"] == "<hidden>"
    missing = failed(runner, "%env OWLET_TEST_NOT_SET")
    assert missing.stderr == "UsageError: Environment does not have key: OWLET_TEST_NOT_SET\n"


def test_lsmagic_and_help(runner: RunnerProcess) -> None:
    assert completed(runner, "%lsmagic").stdout == (
        "Available line magics:\n"
        "%env  %help  %list_sessions  %lsmagic  %matplot  %plotly  %session_id  %set_log_level  %status  %table\n"
        "\n"
        "Available cell magics:\n"
        "%%sql\n"
    )
    text = completed(runner, "%help").stdout
    for magic in ("%%sql", "--limit", "--truncate", "%table", "%matplot", "%plotly", "%session_id", "%status"):
        assert magic in text


def test_plotly_magic_shows_the_figures_html(runner: RunnerProcess) -> None:
    calculation = completed(
        runner,
        "import json\n"
        "class Figure:\n"
        "    def to_html(self, full_html, include_plotlyjs):\n"
        "        return f'<div>{full_html} {include_plotlyjs}</div>'\n"
        "    def to_json(self): return json.dumps({'data': []})\n"
        "%plotly Figure()",
    )
    assert outputs(calculation) == [
        {
            "text/plain": "<Figure>",
            "text/html": "<div>False cdn</div>",
            "application/vnd.plotly.v1+json": {"data": []},
        }
    ]
    assert failed(runner, "%plotly 1").stderr == "UsageError: %plotly needs a plotly figure, not int.\n"


def test_result_json_is_valid_json(runner: RunnerProcess) -> None:
    calculation = completed(runner, "spark.sql(\"SELECT CAST('NaN' AS DOUBLE) AS x, CAST('Infinity' AS DOUBLE) AS y\")")
    text = (calculation.directory / "result.json").read_text(encoding="utf-8")
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert outputs(calculation)[0]["application/json"]["rows"] == [["NaN", "Infinity"]]
