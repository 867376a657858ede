"""A single-node KRaft Kafka broker for tests and benchmarks.

Runs Apache Kafka's own broker (kafka.Kafka) from the jars scripts/setup.sh
fetched into .tools/kafka/libs (version pinned in tests/kafka/pom.xml), with
the machine's Java 17, on free loopback ports, with its data in a temporary
directory. Nothing is mocked: banditd's librdkafka consumer talks to it as to
any Kafka cluster.

    with Broker(tmp_dir) as broker:
        broker.create_topic("clicks", partitions=2)
        ... broker.bootstrap ...

With secure=True the broker also listens with SASL_PLAINTEXT (mechanism
PLAIN, user SASL_USER / SASL_PASSWORD) on sasl_bootstrap and with TLS on
ssl_bootstrap (a self-signed certificate for 127.0.0.1 made with the JRE's
keytool; ca_file holds it in PEM for clients).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
LIBS = REPO_ROOT / ".tools" / "kafka" / "libs"

SASL_USER = "banditd"
SASL_PASSWORD = "banditd-secret"
_KEYSTORE_PASSWORD = "changeit"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise RuntimeError("java not found: run scripts/setup.sh (openjdk-17-jre-headless)")
    return found


class Broker:
    def __init__(self, workdir: Path, secure: bool = False) -> None:
        if not LIBS.is_dir() or not any(LIBS.glob("kafka_2.13-*.jar")):
            raise RuntimeError(f"Kafka jars missing in {LIBS}: run scripts/setup.sh")
        self.workdir = Path(workdir)
        self.secure = secure
        self.port = self.sasl_port = self.ssl_port = 0
        self.ca_file = self.workdir / "ca.pem"
        self.process: Optional[subprocess.Popen] = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.sasl_port}"

    @property
    def ssl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.ssl_port}"

    def _secure_config(self) -> list[str]:
        """Listeners, protocol map entries and settings of the SASL and TLS
        listeners; makes the broker's key and certificate."""
        keytool = Path(java()).resolve().parent / "keytool"
        keystore = self.workdir / "broker.p12"
        for args in (
            ["-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048",
             "-validity", "7", "-dname", "CN=127.0.0.1", "-ext", "SAN=IP:127.0.0.1",
             "-storetype", "PKCS12", "-keystore", str(keystore)],
            ["-exportcert", "-rfc", "-alias", "broker", "-keystore", str(keystore),
             "-file", str(self.ca_file)],
        ):
            subprocess.run([str(keytool), *args, "-storepass", _KEYSTORE_PASSWORD,
                            "-noprompt"], check=True, capture_output=True, timeout=60)
        self.sasl_port, self.ssl_port = _free_port(), _free_port()
        jaas = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
                f'username="{SASL_USER}" password="{SASL_PASSWORD}" '
                f'user_{SASL_USER}="{SASL_PASSWORD}";')
        return [
            "sasl.enabled.mechanisms=PLAIN",
            f"listener.name.sasl_plaintext.plain.sasl.jaas.config={jaas}",
            f"ssl.keystore.location={keystore}",
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.password={_KEYSTORE_PASSWORD}",
            f"ssl.key.password={_KEYSTORE_PASSWORD}",
        ]

    def _java(self, *args: str, log: Optional[Path] = None) -> subprocess.Popen:
        out = open(log, "ab") if log else subprocess.DEVNULL
        cmd = [
            java(), "-Xms128m", "-Xmx512m", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
            "-cp", str(LIBS / "*"), *args,
        ]
        # Its own process group: stop() ends the JVM and nothing else.
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)

    def start(self, timeout: float = 120.0) -> "Broker":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port, controller = _free_port(), _free_port()
        data = self.workdir / "data"
        props = self.workdir / "server.properties"
        secure = self._secure_config() if self.secure else []
        listeners = [f"PLAINTEXT://127.0.0.1:{self.port}"]
        protocols = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
        if self.secure:
            listeners += [f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port}",
                          f"SSL://127.0.0.1:{self.ssl_port}"]
            protocols += ",SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL"
        props.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller}",
            f"listeners={','.join(listeners)},CONTROLLER://127.0.0.1:{controller}",
            f"advertised.listeners={','.join(listeners)}",
            "controller.listener.names=CONTROLLER",
            f"listener.security.protocol.map={protocols}",
            *secure,
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={data}",
            "num.partitions=1",
            "auto.create.topics.enable=false",
            # One node: every internal topic with one replica, one partition
            # for the group coordinator (created on first use: faster).
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "group.initial.rebalance.delay.ms=0",
            "",
        ]))
        log = self.workdir / "broker.log"
        fmt = self._java("kafka.tools.StorageTool", "format", "-t",
                         uuid.uuid4().hex[:22], "-c", str(props), log=log)
        if fmt.wait(timeout) != 0:
            raise RuntimeError(f"formatting the broker's storage failed:\n{log.read_text()}")
        self.process = self._java("kafka.Kafka", str(props), log=log)
        deadline = time.monotonic() + timeout
        from confluent_kafka.admin import AdminClient

        # Quiet: "connection refused" is expected until the broker is up.
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the broker exited:\n{log.read_text()[-4000:]}")
            try:
                md = admin.list_topics(timeout=2)
                if md.brokers:
                    return self
            except Exception:  # not up yet
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the broker did not start in {timeout}s:\n{log.read_text()[-4000:]}")

    def create_topic(self, name: str, partitions: int = 1) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(name, num_partitions=partitions,
                                                replication_factor=1)])
        for f in futures.values():
            f.result(30)
        # Wait until the metadata shows every partition with a leader.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            t = admin.list_topics(topic=name, timeout=5).topics.get(name)
            if t and t.error is None and len(t.partitions) == partitions and all(
                    p.leader >= 0 for p in t.partitions.values()):
                return
            time.sleep(0.2)
        raise RuntimeError(f"topic {name} has no leaders")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
