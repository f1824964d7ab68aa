"""An S3-compatible HTTP server for the tests (moto's server mode) on a free loopback port.

Prints `s3 server at http://127.0.0.1:PORT` when it listens, and stops when its standard input closes, so
the test that started it (and stops it by its process id) never leaves it behind.
"""
import sys

from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"s3 server at http://{host}:{port}", flush=True)
sys.stdin.read()
server.stop()
