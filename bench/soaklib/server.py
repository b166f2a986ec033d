"""The server under test: the real binary started with the default configuration file plus a printed
list of --set overrides, its readiness, its readings (/proc and the admin listener's /metrics) and its
graceful stop. Only the process started here is ever signalled, by its pid."""

import asyncio
import ctypes
import os
import re
import signal
import subprocess
import time

from . import net

LISTENERS = ("main", "govpn", "together", "peervault")
PLUGINS = ("peerjs", "govpn", "together", "peervault")
LISTENING = re.compile(r"listening on ([0-9.]+):(\d+) \((\w+)\)")
PR_SET_PDEATHSIG = 1


class ServerError(Exception):
    pass


def read_text(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def find_build(root, build_dir=None):
    """The build directory to use: the one given, else build-test, else build (the first whose binary
    exists; one that also has the four plugins wins over one that has not)."""
    if build_dir:
        return os.path.abspath(build_dir)
    candidates = [os.path.join(root, "build-test"), os.path.join(root, "build")]
    existing = [c for c in candidates if os.access(os.path.join(c, "bin", "switchboard"), os.X_OK)]
    complete = [c for c in existing if not missing_plugins(os.path.join(c, "plugins"))]
    if complete:
        return complete[0]
    if existing:
        return existing[0]
    return candidates[-1]


def missing_plugins(plugin_dir):
    return [p for p in PLUGINS if not os.path.exists(os.path.join(plugin_dir, p + ".so"))]


def _child_setup():
    # If this script dies without stopping the server, the kernel sends it SIGTERM (a graceful stop).
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Server:
    def __init__(self, binary, config_path, overrides, work_dir):
        self.binary = binary
        self.config_path = config_path
        self.overrides = overrides  # [(key, value, why)]
        self.work_dir = work_dir
        self.log_path = os.path.join(work_dir, "switchboard.log")
        self.process = None
        self.pid = None
        self.ports = {}
        self.admin_port = None
        self.returncode = None
        self.removed_env = []

    def command(self):
        return [self.binary, "--config=" + self.config_path] + ["--set=%s=%s" % (k, v) for k, v, _ in self.overrides]

    def environment(self):
        env = dict(os.environ)
        for name in list(env):
            if (name.startswith("SWITCHBOARD_") and "__" in name) or name.startswith("PEERVAULT_WS_"):
                self.removed_env.append(name)
                del env[name]
        return env

    def start(self, timeout=30.0):
        env = self.environment()
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                            cwd=self.work_dir, env=env, start_new_session=True,
                                            preexec_fn=_child_setup)
        self.pid = self.process.pid
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                self.returncode = self.process.returncode
                raise ServerError("switchboard exited during start-up (code %s):\n%s" %
                                  (self.returncode, self.log_tail(25)))
            for address, port, name in LISTENING.findall(read_text(self.log_path)):
                if name == "admin":
                    self.admin_port = int(port)
                else:
                    self.ports[name] = int(port)
            if self.admin_port and all(n in self.ports for n in LISTENERS):
                break
            if time.monotonic() > deadline:
                raise ServerError("switchboard did not report its listeners within %.0f s:\n%s" %
                                  (timeout, self.log_tail(25)))
            time.sleep(0.05)

    async def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerError("switchboard exited before it was ready (code %s):\n%s" %
                                  (self.returncode, self.log_tail(25)))
            try:
                status, body = await net.http_once("127.0.0.1", self.admin_port, "/readyz", timeout=2.0)
                if status == 200:
                    return
                last = "%d %s" % (status, body[:100].decode("utf-8", "replace").strip())
            except net.NetError as e:
                last = str(e)
            await asyncio.sleep(0.1)
        raise ServerError("/readyz did not answer 200 within %.0f s (last: %s)" % (timeout, last))

    def alive(self):
        if self.process is None:
            return False
        if self.process.poll() is None:
            return True
        self.returncode = self.process.returncode
        return False

    def rss_kb(self):
        for line in read_text("/proc/%d/status" % self.pid).splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return None

    def fds(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.pid))
        except OSError:
            return None

    def cpu_s(self):
        fields = read_text("/proc/%d/stat" % self.pid).rpartition(")")[2].split()
        if len(fields) < 13:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def metrics(self, timeout=5.0):
        """{metric name with labels: value} from the admin listener, or None."""
        try:
            status, body = await net.http_once("127.0.0.1", self.admin_port, "/metrics", timeout=timeout)
        except net.NetError:
            return None
        if status != 200:
            return None
        values = {}
        for line in body.decode("utf-8", "replace").splitlines():
            if not line or line.startswith("#"):
                continue
            name, _, value = line.rpartition(" ")
            try:
                values[name] = float(value)
            except ValueError:
                pass
        return values

    async def stop(self, timeout=30.0):
        """SIGTERM, then wait (bounded); SIGKILL if it does not exit. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if self.process.poll() is None:
                self.process.kill()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                self.returncode = "killed (no exit within %.0f s of SIGTERM)" % timeout
                return self.returncode
        self.returncode = self.process.returncode
        return self.returncode

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def log_tail(self, n):
        return "\n".join(read_text(self.log_path).splitlines()[-n:])

    def log_problems(self):
        """Log lines at Warning level or above (the format is '<date> <time> <Level> <source>: ...')."""
        problems = []
        for line in read_text(self.log_path).splitlines():
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[2] in ("Warning", "Error", "Critical", "Fatal"):
                problems.append(line)
        return problems
