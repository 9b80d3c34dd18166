"""Test peers for hworker-ses scripts: a private redis-server, a private moto
server with signature checking, the project's SES stub, and the daemon.

Everything listens on 127.0.0.1 only, on free ports, inside one work
directory, and is stopped by PID by the process that started it.
"""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, condition, timeout=30.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting until " + what)
        time.sleep(interval)


def _clean_signals():
    # Children get default signal handling and an empty mask, whatever the
    # caller runs under.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


class Peer:
    """A started process, stopped by PID."""

    def __init__(self, args, log_path, env=None):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env, preexec_fn=_clean_signals)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class Redis(Peer):
    def __init__(self, workdir, appendonly=False, extra=(), password=None):
        self.port = free_port()
        self.dir = os.path.join(workdir, "redis-%d" % self.port)
        os.makedirs(self.dir, exist_ok=True)
        self.args = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
                     "--dir", self.dir, "--save", "", "--appendonly", "yes" if appendonly else "no",
                     "--appendfsync", "always", "--unixsocket", os.path.join(self.dir, "redis.sock"),
                     "--unixsocketperm", "700",
                     "--logfile", os.path.join(self.dir, "redis.log")] + list(extra)
        super().__init__(self.args, os.path.join(self.dir, "stdout.log"))
        import redis
        self.client = redis.Redis(host="127.0.0.1", port=self.port, password=password)
        wait_until("redis answers", self._ping, 20)

    @property
    def socket(self):
        return os.path.join(self.dir, "redis.sock")

    def restart(self):
        """Starts the server again on the same port and directory after stop()."""
        Peer.__init__(self, self.args, os.path.join(self.dir, "stdout.log"))
        wait_until("redis answers again", self._ping, 20)

    def _ping(self):
        try:
            return self.client.ping()
        except Exception:
            return False

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port


class Moto(Peer):
    """moto_server with signature checking on after four set-up calls."""

    def __init__(self, workdir, sender):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4", NO_PROXY="127.0.0.1")
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(key, None)
        super().__init__(["moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
                         os.path.join(workdir, "moto.log"), env)
        out = subprocess.run([sys.executable, os.path.join(HERE, "moto-setup.py"), self.url, sender],
                             check=True, capture_output=True, text=True, timeout=120)
        key = json.loads(out.stdout)
        self.access_key_id = key["access_key_id"]
        self.secret_access_key = key["secret_access_key"]

    def messages(self):
        with NO_PROXY.open(self.url + "/moto-api/data.json", timeout=30) as answer:
            data = json.load(answer)
        return data.get("ses", {})


class Certificates:
    """A private certificate authority and a certificate it signed for `localhost`,
    made with the openssl command in `workdir`; clients trust `authority`."""

    def __init__(self, workdir):
        directory = os.path.join(workdir, "tls-%d" % time.monotonic_ns())
        os.makedirs(directory)
        self.authority = os.path.join(directory, "ca.pem")
        self.certificate = os.path.join(directory, "server.pem")
        self.key = os.path.join(directory, "server.key")
        ca_key = os.path.join(directory, "ca.key")
        request = os.path.join(directory, "server.csr")
        extensions = os.path.join(directory, "server.ext")
        with open(extensions, "w") as f:
            f.write("subjectAltName=DNS:localhost\n")
        for arguments in (
                ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
                 "-out", self.authority, "-days", "2", "-subj", "/CN=hworker test authority"],
                ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", request,
                 "-subj", "/CN=localhost"],
                ["x509", "-req", "-in", request, "-CA", self.authority, "-CAkey", ca_key,
                 "-CAcreateserial", "-out", self.certificate, "-days", "2",
                 "-extfile", extensions]):
            subprocess.run(["openssl"] + arguments, check=True, capture_output=True)


class SESStub(Peer):
    """The project's SES stub (scripts/ses-stub.py); with `tls` (Certificates), over
    https at https://localhost:PORT."""

    def __init__(self, workdir, *flags, tls=None):
        port_file = os.path.join(workdir, "stub-%d.port" % time.monotonic_ns())
        arguments = list(flags)
        if tls:
            arguments += ["--tls", tls.certificate, tls.key]
        super().__init__([sys.executable, os.path.join(HERE, "ses-stub.py"), "--port", "0",
                          "--port-file", port_file] + arguments,
                         os.path.join(workdir, "stub.log"))
        wait_until("the SES stub listens",
                   lambda: os.path.exists(port_file) and open(port_file).read().strip(), 20)
        self.port = int(open(port_file).read().strip())
        if tls:
            self.url = "https://localhost:%d" % self.port
            context = ssl.create_default_context(cafile=tls.authority)
            self.opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
        else:
            self.url = "http://127.0.0.1:%d" % self.port
            self.opener = NO_PROXY

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with self.opener.open(request, timeout=30) as answer:
            return json.load(answer)

    def configure(self, **settings):
        return self.call("POST", "/_stub/config", settings)

    def sent(self):
        return self.call("GET", "/_stub/sent?limit=1000000")["messages"]

    def stats(self):
        return self.call("GET", "/_stub/stats")


def binary(release=False):
    path = os.environ.get("HWORKER_SES_BINARY")
    if path:
        return path
    return os.path.join(ROOT, ".build", "release" if release else "debug", "hworker-ses")


def write_config(path, **keys):
    lines = ["%s = %s" % (k, '"%s"' % v if isinstance(v, str) and " " in v else v)
             for k, v in keys.items() if v is not None]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


class Daemon(Peer):
    """`hworker-ses run --config FILE`, logging to a file."""

    def __init__(self, config_path, log_path, env=None, release=False):
        self.log_path = log_path
        super().__init__([binary(release), "run", "--config", config_path], log_path, env)

    def lines(self):
        with open(self.log_path, errors="replace") as f:
            return f.read().splitlines()

    def children(self):
        out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(self.pid)],
                             capture_output=True, text=True).stdout
        result = []
        for line in out.splitlines():
            pid, _, args = line.strip().partition(" ")
            result.append((int(pid), args))
        return result

    def workers(self):
        return [pid for pid, args in self.children() if args.endswith("child worker")]


def queue_stats(client, queue):
    prefix = "hworker:{%s}:" % queue
    counters = {k.decode(): int(v) for k, v in client.hgetall(prefix + "stats").items()}
    counters["queued"] = client.llen(prefix + "queue")
    counters["delayed"] = client.zcard(prefix + "delayed")
    counters["dead_letters"] = client.llen(prefix + "dead")
    in_flight = 0
    for key in client.scan_iter(match=prefix + "inflight:*"):
        in_flight += client.llen(key)
    counters["in_flight"] = in_flight
    return counters


def sent_events(client, queue):
    """Every `sent` event: job id, recipients, send start in seconds."""
    events = []
    last = "-"
    while True:
        batch = client.xrange("hworker:{%s}:events" % queue, min=last, count=10000)
        if last != "-":
            batch = batch[1:]
        if not batch:
            return events
        for entry_id, fields in batch:
            f = {k.decode(): v.decode(errors="replace") for k, v in fields.items()}
            if f.get("event") == "sent":
                events.append({"job": f["job"], "recipients": int(f["recipients"]),
                               "started": int(f.get("started_us", "0")) / 1e6,
                               "message_id": f["message_id"], "payload": f.get("payload", "")})
        last = batch[-1][0].decode()


def largest_window(events, length=1.0):
    """The most recipients whose sends started within any half-open window."""
    times = sorted((e["started"], e["recipients"]) for e in events)
    best = total = start = 0
    for end in range(len(times)):
        total += times[end][1]
        while times[end][0] - times[start][0] >= length:
            total -= times[start][1]
            start += 1
        best = max(best, total)
    return best
