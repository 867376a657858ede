"""Kafka ingest through the broker's SASL_PLAINTEXT (PLAIN) and TLS
listeners (tests/kafka/broker.py, secure=True): banditd consumes through
each, and when it cannot (a wrong password, a certificate it does not
trust) its log says why and nothing is applied."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import List

import banditd
from broker import SASL_PASSWORD, SASL_USER

from conftest import start_server
from test_kafka_ingest import event, produce, views_and_clicks, wait_for


def consume_through(broker, tmp_path: Path, name: str, flags: List[str]):
    """A fresh topic holding 3 records for one room, and a banditd consuming
    it with `flags` (the room is created first, so records are admitted)."""
    topic = f"{name}-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic)
    server = start_server(tmp_path / name, extra=[
        f"--kafka_topics={topic}", f"--kafka_group=g-{topic}", *flags])
    client = banditd.Client(server.target, timeout=5)
    client.create_room("r", ["a", "b"])
    produce(broker, topic, [(None, event("r", "a", 2, 1), None),
                            (None, event("r", "b", 1, 0), None),
                            (None, event("r", "a", 1, 1), None)])
    return server, client


def test_sasl_plain_listener(broker, tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text(SASL_PASSWORD + "\n")  # The newline is ignored.
    sasl = [f"--kafka_brokers={broker.sasl_bootstrap}",
            "--kafka_security_protocol=sasl_plaintext", "--kafka_sasl_mechanism=PLAIN",
            f"--kafka_sasl_username={SASL_USER}"]
    server, client = consume_through(broker, tmp_path, "sasl", [
        *sasl, f"--kafka_sasl_password_file={password}"])
    try:
        wait_for(lambda: views_and_clicks(client, "r") == {"a": (3, 2), "b": (1, 0)},
                 30, "the records consumed through SASL")
    finally:
        client.close()
        server.stop()

    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password")
    server, client = consume_through(broker, tmp_path, "sasl-wrong", [
        *sasl, f"--kafka_sasl_password_file={wrong}"])
    try:
        # banditd's own error line, with a hint at the flags to check.
        wait_for(lambda: re.search(r" error \S+\] kafka: .*Authentication failed.*"
                                   r"check .*--kafka_sasl_password_file", server.log()),
                 30, "the log to name the authentication failure")
        assert views_and_clicks(client, "r") == {"a": (0, 0), "b": (0, 0)}
        assert client.health() == "SERVING"  # The RPCs keep working.
    finally:
        client.close()
        server.stop()
    assert SASL_PASSWORD not in server.log() and "not-the-password" not in server.log()


def test_tls_listener(broker, tmp_path: Path) -> None:
    tls = [f"--kafka_brokers={broker.ssl_bootstrap}", "--kafka_security_protocol=ssl"]
    server, client = consume_through(broker, tmp_path, "tls", [
        *tls, f"--kafka_ssl_ca_location={broker.ca_file}"])
    try:
        wait_for(lambda: views_and_clicks(client, "r") == {"a": (3, 2), "b": (1, 0)},
                 30, "the records consumed through TLS")
    finally:
        client.close()
        server.stop()

    # The system's CAs do not include the broker's self-signed certificate.
    server, client = consume_through(broker, tmp_path, "tls-untrusted", tls)
    try:
        wait_for(lambda: re.search(r" error \S+\] kafka: .*certificate verify failed.*"
                                   r"check .*--kafka_ssl_ca_location", server.log()),
                 30, "the log to name the certificate failure")
        assert views_and_clicks(client, "r") == {"a": (0, 0), "b": (0, 0)}
    finally:
        client.close()
        server.stop()
