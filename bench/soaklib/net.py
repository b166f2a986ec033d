"""A minimal asyncio WebSocket client (RFC 6455: masked client frames, text and binary messages,
fragments, ping/pong, the close handshake) and a keep-alive HTTP/1.1 client. Every wait has a
deadline; nothing here retries forever."""

import asyncio
import base64
import collections
import hashlib
import json
import os
import struct
import time

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
INBOX_LIMIT = 1000


class NetError(Exception):
    """A connection that could not be opened, a refused upgrade, a malformed answer."""


class Closed(NetError):
    """The WebSocket closed while we were waiting for a message on it."""


def client_frame(opcode, payload):
    """One final, masked frame (client to server)."""
    n = len(payload)
    mask = os.urandom(4)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0xFE)) + struct.pack(">H", n)
    else:
        head = bytes((0x80 | opcode, 0xFF)) + struct.pack(">Q", n)
    if n:
        key = (mask * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return head + mask + payload


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


class WebSocket:
    """One client connection. Each data message goes to the inbox that expect() reads, or when
    on_message is set, what on_message(ws, opcode, data) returns does (None: nothing). hooks (an
    object with ws_opened, ws_closed, ws_sent and ws_received methods, or None) counts traffic."""

    def __init__(self, hooks=None, on_message=None, name=""):
        self.hooks = hooks
        self.on_message = on_message
        self.name = name
        self.reader = None
        self.writer = None
        self.task = None
        self.inbox = collections.deque()
        self.event = asyncio.Event()
        self.open = False
        self.closed = False
        self.we_closed = False
        self.close_code = None  # the code of the server's close frame (1005: none in it); None: no close frame
        self.close_reason = ""
        self.expected_close = False  # set by a driver that knows the server will close this one
        self.dropped = 0  # inbox overflow (a driver that did not read what it was sent)
        self.protocol_error = None

    # -- opening --

    async def connect(self, host, port, path, headers=None, timeout=10.0):
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port), "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        for name, value in (headers or {}).items():
            lines.append("%s: %s" % (name, value))
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        writer = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status_line, _, rest = head.decode("latin-1").partition("\r\n")
                parts = status_line.split(None, 2)
                status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0
                fields = {}
                for line in rest.split("\r\n"):
                    name, sep, value = line.partition(":")
                    if sep:
                        fields[name.strip().lower()] = value.strip()
                if status != 101:
                    body = b""
                    length = fields.get("content-length", "")
                    if length.isdigit() and 0 < int(length) <= 4096:
                        body = await reader.readexactly(int(length))
                    raise NetError("upgrade of %s refused: %s %s" % (path.split("?")[0], status_line.strip(),
                                                                    body[:200].decode("utf-8", "replace")))
                accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
                if fields.get("sec-websocket-accept") != accept:
                    raise NetError("upgrade of %s: bad Sec-WebSocket-Accept" % path.split("?")[0])
        except TimeoutError:
            if writer is not None:
                writer.transport.abort()
            raise NetError("upgrade of %s: no answer within %.0f s" % (path.split("?")[0], timeout))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            if writer is not None:
                writer.transport.abort()
            raise NetError("upgrade of %s: %s" % (path.split("?")[0], e or type(e).__name__))
        except NetError:
            writer.transport.abort()
            raise
        self.reader, self.writer = reader, writer
        self.open = True
        if self.hooks:
            self.hooks.ws_opened(self)
        self.task = asyncio.get_running_loop().create_task(self._read_loop())

    # -- reading --

    async def _read_loop(self):
        fragments = []
        fragment_op = 0
        read = self.reader.readexactly
        try:
            while True:
                b0, b1 = await read(2)
                opcode = b0 & 0x0F
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", await read(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", await read(8))[0]
                if b1 & 0x80:
                    self.protocol_error = "the server masked a frame"
                    await read(4)
                data = await read(n) if n else b""
                if opcode >= 8:
                    if opcode == PING:
                        self._write(PONG, data)
                    elif opcode == CLOSE:
                        self.close_code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 1005
                        self.close_reason = data[2:].decode("utf-8", "replace")
                        if not self.we_closed:
                            self._write(CLOSE, data[:2])
                        break
                    continue
                if opcode == 0:
                    fragments.append(data)
                else:
                    fragments, fragment_op = [data], opcode
                if b0 & 0x80:
                    message = fragments[0] if len(fragments) == 1 else b"".join(fragments)
                    fragments = []
                    if self.hooks:
                        self.hooks.ws_received(self)
                    try:
                        item = message if self.on_message is None else self.on_message(self, fragment_op, message)
                    except Exception as e:  # a bug of the driver's handler: reported, the connection goes on
                        self.protocol_error = "the client's message handler failed: %r on %r" % (e, message[:100])
                        item = None
                    if item is not None:
                        self.inbox.append(item)
                        if len(self.inbox) > INBOX_LIMIT:
                            self.inbox.popleft()
                            self.dropped += 1
                        self.event.set()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            self._finish()
            raise
        self._finish()

    def _finish(self):
        if self.closed:
            return
        self.closed = True
        self.open = False
        self.event.set()
        if self.writer is not None:
            if self.close_code is None:
                self.writer.transport.abort()
            else:
                self.writer.close()
        if self.hooks:
            self.hooks.ws_closed(self)

    async def expect(self, predicate=None, timeout=10.0, what="a message"):
        """The first inbox message for which predicate(message) is true (any message without one),
        removed from the inbox; Closed or TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            for i, message in enumerate(self.inbox):
                if predicate is None or predicate(message):
                    del self.inbox[i]
                    return message
            if self.closed:
                raise Closed("connection closed (code %s %s) while waiting for %s" %
                             (self.close_code, self.close_reason, what))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no %s within %.0f s" % (what, timeout))
            self.event.clear()
            try:
                await asyncio.wait_for(self.event.wait(), remaining)
            except TimeoutError:
                pass

    # -- writing --

    def _write(self, opcode, payload):
        if self.writer is None or self.writer.transport.is_closing():
            return False
        self.writer.write(client_frame(opcode, payload))
        return True

    def send(self, data, binary=False):
        """Queues one data message; False if the connection is gone."""
        if self.closed or self.we_closed:
            return False
        if isinstance(data, str):
            data = data.encode()
        if not self._write(BINARY if binary else TEXT, data):
            return False
        if self.hooks:
            self.hooks.ws_sent(self)
        return True

    def buffered(self):
        return self.writer.transport.get_write_buffer_size() if self.writer is not None else 0

    async def close(self, code=1000, timeout=5.0):
        """Our close handshake: the close frame, then the server's answer (bounded), then TCP."""
        if self.closed or self.writer is None:
            return
        if not self.we_closed:
            self.we_closed = True
            self._write(CLOSE, struct.pack(">H", code))
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except (TimeoutError, asyncio.CancelledError):
            self.task.cancel()
            try:
                await asyncio.wait_for(self.task, 1.0)
            except (TimeoutError, asyncio.CancelledError):
                pass
        self._finish()

    def abort(self):
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.writer is not None:
            self.writer.transport.abort()
        self._finish()


class HttpClient:
    """One keep-alive HTTP/1.1 connection, reopened when needed. request() never waits longer than its
    timeout. A connection idle for longer than `idle_reopen` seconds is reopened before use (the
    server's keep-alive timeout is 5 s), so a request never meets a connection the server just closed;
    a reused connection that fails before any answer byte is retried once on a new one."""

    def __init__(self, host, port, hooks=None, idle_reopen=3.0):
        self.host = host
        self.port = port
        self.hooks = hooks
        self.idle_reopen = idle_reopen
        self.reader = None
        self.writer = None
        self.last_used = 0.0
        self.requests = 0
        self.lock = asyncio.Lock()

    def close(self):
        if self.writer is not None:
            self.writer.transport.abort()
            self.writer = None
            if self.hooks:
                self.hooks.http_closed(self)

    @property
    def connected(self):
        return self.writer is not None

    async def _open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 24)
        if self.hooks:
            self.hooks.http_opened(self)

    async def request(self, method, path, body=None, headers=None, timeout=15.0):
        """(status, headers dict, body bytes)."""
        async with self.lock:
            try:
                async with asyncio.timeout(timeout):
                    return await self._request(method, path, body, headers)
            except TimeoutError:
                self.close()
                raise NetError("%s %s: no answer within %.0f s" % (method, path.split("?")[0], timeout))

    async def _request(self, method, path, body, headers):
        if self.writer is not None and time.monotonic() - self.last_used > self.idle_reopen:
            self.close()
        reused = self.writer is not None
        data = body if body is None or isinstance(body, bytes) else compact(body).encode()
        head = "%s %s HTTP/1.1\r\nHost: %s:%d\r\n" % (method, path, self.host, self.port)
        for name, value in (headers or {}).items():
            head += "%s: %s\r\n" % (name, value)
        if data is not None:
            head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
        elif method in ("POST", "PUT", "PATCH"):
            head += "Content-Length: 0\r\n"
        request = (head + "\r\n").encode() + (data or b"")
        for attempt in (0, 1):
            try:
                if self.writer is None:
                    await self._open()
                self.writer.write(request)
                status_line = await self.reader.readline()
                if not status_line:
                    raise ConnectionResetError("connection closed before the answer")
                break
            except (ConnectionError, OSError) as e:
                self.close()
                if attempt == 0 and reused:
                    continue
                raise NetError("%s %s: %s" % (method, path.split("?")[0], e or type(e).__name__))
        self.requests += 1
        if self.hooks:
            self.hooks.http_request(self)
        try:
            parts = status_line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
                raise NetError("%s %s: not an HTTP answer: %r" % (method, path, status_line[:80]))
            status = int(parts[1])
            fields = {}
            while True:
                line = await self.reader.readline()
                if not line:
                    raise NetError("%s %s: connection closed in the answer's head" % (method, path))
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                fields[name.strip().lower()] = value.strip()
            payload = b""
            if fields.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    chunks.append(await self.reader.readexactly(size))
                    await self.reader.readline()
                payload = b"".join(chunks)
            elif "content-length" in fields:
                payload = await self.reader.readexactly(int(fields["content-length"]))
            elif status not in (204, 304) and method != "HEAD":
                payload = await self.reader.read(1 << 22)
                self.close()
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError) as e:
            self.close()
            raise NetError("%s %s: %s" % (method, path.split("?")[0], e or type(e).__name__))
        if fields.get("connection", "").lower() == "close":
            self.close()
        self.last_used = time.monotonic()
        return status, fields, payload


async def http_once(host, port, path, timeout=5.0):
    """A single GET on a fresh connection (Connection: close): (status, body)."""
    client = HttpClient(host, port)
    try:
        status, _, body = await client.request("GET", path, headers={"Connection": "close"}, timeout=timeout)
        return status, body
    finally:
        client.close()
