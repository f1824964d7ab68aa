"""The control socket: newline-delimited JSON messages over ``DIR/runner.sock`` (docs/runner-protocol.md).

A thread accepts connections; each connection gets a thread that reads it. The first message must be the
client's ``hello`` with the session secret, otherwise the connection is closed. One client is connected at a
time: a newer authenticated connection replaces the older one (a restarted server takes over). Events go to
the current client only; with no client connected they are dropped (status.json keeps a calculation's
outcome).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import socket
import struct
import threading
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

# The first message must arrive soon and be small; a stray or hostile connection cannot hold a thread or
# memory for long.
HELLO_TIMEOUT_SECONDS = 10.0
MAX_HELLO_BYTES = 64 * 1024
# Athena limits a code block to 68,000 characters; this leaves room for any encoding of that.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# A client that stops reading must not block the runner's threads for ever; it is dropped instead.
SEND_TIMEOUT_SECONDS = 10.0
# sun_path holds 108 bytes including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107


class ProtocolError(Exception):
    """A message the runner cannot act on; reported to the client as an ``error`` event."""

    def __init__(
        self,
        message: str,
        calculation_id: str | None = None,
        session_id: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.calculation_id = calculation_id
        # The session a refused `configure` named, so that the server can tell which request was refused.
        self.session_id = session_id
        # The requestId of a refused request that carries one (`executors`).
        self.request_id = request_id


def encode_message(message: dict[str, Any]) -> bytes:
    # ensure_ascii keeps the line valid UTF-8 even for strings holding lone surrogates (undecodable bytes).
    return (json.dumps(message, separators=(",", ":")) + "\n").encode("ascii")


def decode_message(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolError(f"not a JSON message: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


class ControlServer:
    """Listens on the session socket and hands authenticated messages to ``on_message``.

    ``on_message`` runs on the connection's thread and may raise ProtocolError; ``on_authenticated`` runs
    after a successful hello (the runner answers it with a status event).
    """

    def __init__(
        self,
        socket_path: str,
        secret: str,
        on_message: Callable[[dict[str, Any]], None],
        on_authenticated: Callable[[], None],
    ) -> None:
        self.socket_path = socket_path
        self._secret = secret.encode("utf-8")
        self._on_message = on_message
        self._on_authenticated = on_authenticated
        self._listener: socket.socket | None = None
        # Guards the current client and serializes writes to it: several threads send events.
        self._client_lock = threading.Lock()
        self._client: socket.socket | None = None
        # Every accepted connection until it ends, authenticated or not (socket_fds).
        self._connections: set[socket.socket] = set()
        self._closed = False
        # Since when no authenticated client has been connected (time.monotonic()); None while one is.
        self._detached_since: float | None = time.monotonic()

    def listen(self) -> None:
        """Binds the socket (mode 0600), replacing a stale socket file from a previous run."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        previous_umask = os.umask(0o177)
        try:
            _bind_unix(listener, self.socket_path)
        except OSError:
            listener.close()
            raise
        finally:
            os.umask(previous_umask)
        os.chmod(self.socket_path, 0o600)
        listener.listen(8)
        self._listener = listener

    def start(self) -> None:
        threading.Thread(target=self._accept_loop, name="control-accept", daemon=True).start()

    def send(self, event: dict[str, Any]) -> bool:
        """Sends ``event`` to the current client; False when there is none or the write failed."""
        data = encode_message(event)
        with self._client_lock:
            client = self._client
            if client is None:
                return False
            try:
                client.sendall(data)
                return True
            except OSError as error:
                log.warning("dropping the client: cannot send %s event: %s", event.get("event"), error)
                self._client = None
                self._detached_since = time.monotonic()
        _close_quietly(client)
        return False

    def socket_fds(self) -> list[int]:
        """The descriptors of the listening socket and of every connection: a forked child must not keep them
        (child_processes). Takes no lock, so that it can run right after a fork."""
        sockets = [self._listener, *list(self._connections)]
        return [fd for fd in (sock.fileno() for sock in sockets if sock is not None) if fd >= 0]

    def detached_since(self) -> float | None:
        """Since when no client has been connected (time.monotonic()); None while one is."""
        with self._client_lock:
            return self._detached_since

    def stop_accepting_if_detached(self, before_stopping: Callable[[], None]) -> bool:
        """Stops accepting connections if no client is connected, in one step with that check and with
        ``before_stopping``: a client that authenticates from then on is turned away, and one that finds the
        socket gone finds what ``before_stopping`` wrote. Returns whether it stopped."""
        with self._client_lock:
            if self._client is not None:
                return False
            before_stopping()
            self._closed = True
            listener, self._listener = self._listener, None
        if listener is not None:
            _close_quietly(listener)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        return True

    def close(self) -> None:
        """Stops accepting, disconnects the client and removes the socket file."""
        self._closed = True
        listener, self._listener = self._listener, None
        if listener is not None:
            _close_quietly(listener)
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            _close_quietly(client)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)

    def _accept_loop(self) -> None:
        while not self._closed:
            listener = self._listener
            if listener is None:
                return
            try:
                connection, _ = listener.accept()
            except OSError:
                if self._closed:
                    return
                log.warning("accept on %s failed", self.socket_path, exc_info=True)
                continue
            self._connections.add(connection)
            threading.Thread(
                target=self._serve_connection, args=(connection,), name="control-connection", daemon=True
            ).start()

    def _serve_connection(self, connection: socket.socket) -> None:
        try:
            reader = connection.makefile("rb")
            if not self._authenticate(connection, reader):
                return
            if not self._become_client(connection):
                return
            self._on_authenticated()
            self._read_messages(connection, reader)
        except OSError as error:
            log.info("connection ended: %s", error)
        finally:
            with self._client_lock:
                if self._client is connection:
                    self._client = None
                    self._detached_since = time.monotonic()
            self._connections.discard(connection)
            _close_quietly(connection)

    def _authenticate(self, connection: socket.socket, reader: Any) -> bool:
        connection.settimeout(HELLO_TIMEOUT_SECONDS)
        try:
            line = reader.readline(MAX_HELLO_BYTES)
        except (OSError, ValueError):
            return False
        try:
            hello = decode_message(line)
        except ProtocolError:
            return False
        secret = hello.get("secret")
        if hello.get("op") != "hello" or not isinstance(secret, str):
            log.warning("closing a connection whose first message is not hello")
            return False
        if not hmac.compare_digest(secret.encode("utf-8", "surrogatepass"), self._secret):
            log.warning("closing a connection with a wrong secret")
            return False
        connection.settimeout(None)
        timeout = struct.pack("ll", int(SEND_TIMEOUT_SECONDS), 0)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout)
        return True

    def _become_client(self, connection: socket.socket) -> bool:
        with self._client_lock:
            if self._closed:
                return False
            previous, self._client = self._client, connection
            self._detached_since = None
        if previous is not None:
            log.info("a new client replaces the connected one")
            _close_quietly(previous)
        return True

    def _read_messages(self, connection: socket.socket, reader: Any) -> None:
        while True:
            line = reader.readline(MAX_MESSAGE_BYTES + 1)
            if not line:
                return
            if len(line) > MAX_MESSAGE_BYTES:
                self.send({"event": "error", "message": f"message longer than {MAX_MESSAGE_BYTES} bytes"})
                return
            if not line.strip():
                continue
            with self._client_lock:
                replaced = self._client is not connection
            if replaced:
                return
            try:
                self._on_message(decode_message(line))
            except ProtocolError as error:
                event: dict[str, Any] = {"event": "error", "message": str(error)}
                if error.calculation_id is not None:
                    event["id"] = error.calculation_id
                if error.session_id is not None:
                    event["sessionId"] = error.session_id
                if error.request_id is not None:
                    event["requestId"] = error.request_id
                self.send(event)
            except Exception:  # noqa: BLE001 - a bug must not end the connection thread silently
                log.exception("handling a message failed")
                self.send({"event": "error", "message": "the runner failed to handle the message; see the session log"})


def _bind_unix(listener: socket.socket, path: str) -> None:
    """Binds ``path``; one longer than sun_path allows is bound through the /proc/self/fd alias of its
    directory (bind(2) resolves it like any other path)."""
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH_BYTES:
        listener.bind(path)
        return
    directory_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        listener.bind(f"/proc/self/fd/{directory_fd}/{os.path.basename(path)}")
    finally:
        os.close(directory_fd)


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
