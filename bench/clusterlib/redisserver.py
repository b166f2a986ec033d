# bench/clusterlib/redisserver.py: a redis-server started by the benchmark, and a minimal RESP client.
#
# The server runs on a free port of 127.0.0.1 with its directory in the run's temporary directory and
# persistence off (--save "" --appendonly no), so it never writes a dump. stop() ends it by its pid.

import os
import signal
import socket
import subprocess
import time

REDIS_SERVER = "/usr/bin/redis-server"


class RedisError(Exception):
    """Redis did not start, did not answer in time, or answered with an error."""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RespClient:
    """One connection to Redis; command() sends one command and returns its parsed reply."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buffer = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def command(self, *words):
        out = [b"*%d\r\n" % len(words)]
        for w in words:
            data = w if isinstance(w, bytes) else str(w).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(out))
        reply = self._value()
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise RedisError("Redis closed the connection")
        self.buffer += chunk

    def _line(self):
        while b"\r\n" not in self.buffer:
            if len(self.buffer) > (64 << 20):
                raise RedisError("reply line too long")
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _value(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buffer) < n + 2:
                self._fill()
            data, self.buffer = self.buffer[:n], self.buffer[n + 2:]
            return data.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._value() for _ in range(n)]
        raise RedisError("unexpected reply %r" % line[:80])


def parse_info(text):
    """INFO's "key:value" lines as a dict of strings; commandstats lines as {"calls": n, "usec": n}."""
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        if key.startswith("cmdstat_"):
            fields = dict(item.split("=", 1) for item in value.split(",") if "=" in item)
            values[key] = {"calls": int(fields.get("calls", 0)), "usec": int(fields.get("usec", 0))}
        else:
            values[key] = value
    return values


class RedisServer:
    """redis-server on a free loopback port, persistence off, its directory under work_dir."""

    def __init__(self, work_dir, log_dir, binary=REDIS_SERVER, start_timeout=10.0):
        self.port = free_port()
        self.directory = os.path.join(work_dir, "redis-%d" % self.port)
        os.makedirs(self.directory, exist_ok=True)
        self.log_path = os.path.join(log_dir, "redis-%d.log" % self.port)
        self.command_line = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                             "--appendonly", "no", "--dir", self.directory, "--daemonize", "no",
                             "--logfile", self.log_path]
        self.process = subprocess.Popen(self.command_line, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.pid = self.process.pid
        self.client = None
        try:
            self._wait_ready(start_timeout)
        except Exception:
            self.stop()
            raise

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisError("redis-server exited at start-up (code %s); see %s" %
                                 (self.process.returncode, self.log_path))
            try:
                client = RespClient(self.port, timeout=1.0)
                if client.command("PING") == "PONG":
                    self.client = client
                    self.client.sock.settimeout(5.0)
                    self.version = self.info("server").get("redis_version", "?")
                    return
                client.close()
            except (OSError, RedisError) as e:
                last = str(e)
            time.sleep(0.05)
        raise RedisError("redis-server did not answer PING on port %d within %.0f s (%s)" %
                         (self.port, timeout, last))

    def alive(self):
        return self.process.poll() is None

    def info(self, *sections):
        """INFO with these sections (Redis 7 takes several), parsed by parse_info()."""
        if self.client is None:
            self.client = RespClient(self.port)
        try:
            return parse_info(self.client.command("INFO", *sections) or "")
        except (OSError, RedisError):
            self.client.close()
            self.client = None
            raise

    def counters(self):
        """total_commands_processed and the per-command calls (commandstats), from one INFO."""
        values = self.info("stats", "commandstats")
        stats = {k: v for k, v in values.items() if k.startswith("cmdstat_")}
        return {"total_commands_processed": int(values.get("total_commands_processed", 0)),
                "commandstats": stats}

    def stop(self):
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def counters_delta(a, b):
    """Commands Redis processed between two counters() samples, without the INFO calls that took them.

    Redis counts a command after running it: the INFO that took sample a is in b's figures, the one
    that took b is not; the INFO rows of commandstats are dropped from both figures."""
    per_command = {}
    for key, value in b["commandstats"].items():
        before = a["commandstats"].get(key, {"calls": 0, "usec": 0})
        calls = value["calls"] - before["calls"]
        if calls:
            per_command[key[len("cmdstat_"):]] = {"calls": calls, "usec": value["usec"] - before["usec"]}
    info_calls = per_command.pop("info", {"calls": 0})["calls"]
    total = b["total_commands_processed"] - a["total_commands_processed"] - info_calls
    return {"total": total, "per_command": per_command}
