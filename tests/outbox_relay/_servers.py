"""Real brokers started by the test session: Redis, RabbitMQ, NATS JetStream, Kafka (Tansu).

Each runs from the binary that ``eventhex_devtools.brokers`` finds (Redis, NATS and Tansu from
Python packages of the test environment; RabbitMQ from Debian, installed on first use when the
session runs as root), on free loopback ports, with its data in a temporary directory, in its own
process group so that stopping it stops all it started. A server that is missing or does not come
up raises (with its log), which fails the tests that need it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from eventhex_devtools import brokers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    text = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    raise RuntimeError(f"{process.args!r} did not listen on {port}:\n{text}")


class Server:
    """A broker process: ``start()``, ``stop()`` (keeping its data), ``close()`` (removing it)."""

    name = "server"
    boot_seconds = 20.0
    stop_signal = signal.SIGTERM

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"eventhex-{self.name}-"))
        self.port = free_port()
        self.log = self.workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=self.environment(),
                start_new_session=True,
            )
        wait_for_port(self.port, self.process, self.log, self.boot_seconds)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, self.stop_signal)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


class RedisServer(Server):
    """redis-server; ``durable`` turns on the append-only file, fsynced on every write."""

    name = "redis-server"

    def __init__(self, durable: bool = False) -> None:
        super().__init__()
        self.durable = durable

    def command(self) -> list[str]:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else []
        return [
            str(brokers.redis_server()), "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--dir", str(self.workdir), *persistence,
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class NatsServer(Server):
    """nats-server with JetStream storing in the work directory.

    ``ping_interval`` (e.g. ``"1s"``) makes the server ping clients that often and close one as
    stale after a single unanswered ping. ``tls`` (a certificate and key file) makes it require
    TLS of every client.
    """

    name = "nats-server"

    def __init__(
        self, ping_interval: str | None = None, tls: tuple[Path, Path] | None = None
    ) -> None:
        super().__init__()
        self.ping_interval = ping_interval
        self.tls = tls

    def command(self) -> list[str]:
        store = self.workdir / "jetstream"
        command = [str(brokers.nats_server()), "-js", "-a", "127.0.0.1", "-p", str(self.port)]
        command += ["-sd", str(store)]
        lines = []
        if self.ping_interval is not None:
            lines += [f'ping_interval: "{self.ping_interval}"', "ping_max: 1"]
        if self.tls is not None:
            cert, key = self.tls
            lines += [f'tls {{\n  cert_file: "{cert}"\n  key_file: "{key}"\n}}']
        if lines:
            config = self.workdir / "nats.conf"
            config.write_text("\n".join(lines) + "\n")
            command += ["-c", str(config)]
        return command

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


class TansuServer(Server):
    """Tansu, a Kafka-compatible broker, storing in memory: a restart starts empty (topics
    included), so tests read what they need before they stop it. SIGINT stops it at once
    (SIGTERM waits for its connections to close)."""

    name = "tansu"
    stop_signal = signal.SIGINT

    def command(self) -> list[str]:
        listener = f"tcp://127.0.0.1:{self.port}"
        return [
            str(brokers.tansu()), "broker", "--listener-url", listener,
            "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/",
        ]  # fmt: skip

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 and localhost, made with openssl.

    Returns:
        The CA certificate, the server certificate and the server key.
    """
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, request = directory / "server.pem", directory / "server.key", directory / "req.csr"
    extensions = directory / "server.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    quiet = {"check": True, "capture_output": True}
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", ca_key, "-out", ca, "-subj", "/CN=eventhex test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        **quiet,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request,
         "-subj", "/CN=127.0.0.1"],
        **quiet,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-days", "2", "-out", cert, "-extfile", extensions],
        **quiet,
    )  # fmt: skip
    return ca, cert, key


class RabbitServer(Server):
    """rabbitmq-server with no plugins, its own epmd, node name and Mnesia directory."""

    name = "rabbitmq-server"
    boot_seconds = 90.0

    def __init__(self) -> None:
        super().__init__()
        self.epmd_port, self.dist_port = free_port(), free_port()
        (self.workdir / "enabled_plugins").write_text("[].\n")
        self.epmd: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [str(brokers.rabbitmq().server)]

    def environment(self) -> dict[str, str]:
        work = str(self.workdir)
        return {
            **os.environ,
            "HOME": work,
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": f"eventhex{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": f"{work}/mnesia",
            "RABBITMQ_LOG_BASE": f"{work}/log",
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_PID_FILE": f"{work}/rabbit.pid",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{work}/enabled_plugins",
            "RABBITMQ_CONFIG_FILE": f"{work}/rabbitmq",
        }

    def start(self) -> None:
        if self.epmd is None:
            self.epmd = subprocess.Popen(
                [str(brokers.rabbitmq().epmd), "-port", str(self.epmd_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        super().start()

    def close(self) -> None:
        super().close()
        if self.epmd is not None:
            self.epmd.terminate()
            self.epmd.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
