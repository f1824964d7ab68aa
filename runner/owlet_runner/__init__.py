"""Owlet's session runner: one process per Athena Spark session.

The runner starts a PySpark driver in-process, binds ``spark`` and ``sc``, runs calculation code blocks in one
persistent namespace and talks to the Owlet server over a Unix domain socket. The contract with the server is
``docs/runner-protocol.md``; ``python -m owlet_runner --session-dir DIR`` starts it.
"""
