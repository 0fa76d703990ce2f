"""What the bus lets each user touch, tried against a real nats-server: a node reaches only
its own subjects, so one node's credentials cannot read, answer or speak for another."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError

from tests.link.conftest import APP_PASSWORD, NODE_PASSWORDS
from vigil.link.nats.connection import connect
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.subjects import APP_USER, app_call, check_node_name, node_call, report
from vigil.link.protocol import LinkUnavailable


async def _request(client: Client, subject: str, data: bytes) -> Msg:
    """A request answered once its answerer's interest has reached the server's routing."""
    for _ in range(50):
        try:
            return await client.request(subject, data, timeout=5)
        except NoRespondersError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"no one answered {subject}")


async def _as(server: NatsServer, user: str, password: str) -> tuple[Client, list[str]]:
    errors: list[str] = []
    client = await connect(server.url, user, password, name=f"test-{user}")
    previous = client._error_cb

    async def record(exc: Exception) -> None:
        errors.append(str(exc))
        if previous is not None:
            await previous(exc)

    client._error_cb = record
    return client, errors


async def test_a_node_cannot_read_or_answer_another_nodes_calls(
    nats_server: NatsServer, app_client: Client
) -> None:
    spy, errors = await _as(nats_server, "node-a", NODE_PASSWORDS["node-a"])
    heard: list[bytes] = []

    async def listen(msg: object) -> None:
        heard.append(getattr(msg, "data", b""))

    for subject in (node_call("node-b", "read_file"), "vigil.node.>", "_INBOX.>", ">"):
        await spy.subscribe(subject, cb=listen)
    await spy.flush()
    await asyncio.sleep(0.2)
    # Node B's own answerer: the application's call reaches it, and only it.
    b, _ = await _as(nats_server, "node-b", NODE_PASSWORDS["node-b"])

    async def answer(msg: object) -> None:
        await b.publish(msg.reply, b"from b")  # type: ignore[attr-defined]

    await b.subscribe(node_call("node-b", "read_file"), cb=answer)
    await b.flush()
    reply = await _request(app_client, node_call("node-b", "read_file"), b"secret-args")
    assert reply.data == b"from b"
    await asyncio.sleep(0.2)
    assert heard == []  # neither the call nor its reply
    assert sum("permissions violation" in e.lower() for e in errors) == 4
    await b.close()
    await spy.close()


async def test_a_node_cannot_speak_for_another_node(
    nats_server: NatsServer, app_client: Client
) -> None:
    got: list[str] = []

    async def keep(msg: object) -> None:
        got.append(msg.subject)  # type: ignore[attr-defined]

    await app_client.subscribe("vigil.>", cb=keep)
    await app_client.flush()
    a, errors = await _as(nats_server, "node-a", NODE_PASSWORDS["node-a"])
    await a.publish(app_call("node-b", "camera_configs"), b"{}")
    await a.publish(report("node-b", "recorded"), b"{}")
    await a.publish(node_call("node-b", "apply_camera"), b"{}")  # commanding a node
    await a.publish(app_call("node-a", "camera_configs"), b"{}")  # its own: allowed
    await a.flush()
    await asyncio.sleep(0.3)
    assert got == [app_call("node-a", "camera_configs")]
    assert sum("permissions violation" in e.lower() for e in errors) == 3
    await a.close()


async def test_passwords_are_not_interchangeable(nats_server: NatsServer) -> None:
    for user, password in [
        ("node-a", NODE_PASSWORDS["node-b"]),  # another node's
        ("node-a", APP_PASSWORD),  # the application's, as a node
        (APP_USER, NODE_PASSWORDS["node-a"]),  # a node's, as the application
    ]:
        # Refused: the server's answer, or its closing the socket before that is read.
        with pytest.raises(LinkUnavailable, match=r"(?i)authorization violation|reset by peer"):
            await connect(nats_server.url, user, password, name="intruder")
        rightful = {APP_USER: APP_PASSWORD, **NODE_PASSWORDS}[user]
        await (await connect(nats_server.url, user, rightful, name="rightful")).close()


def test_node_names_are_one_subject_token() -> None:
    assert check_node_name("node-a_1") == "node-a_1"
    for bad in ("", "a.b", "a b", "*", ">", "n" * 65, APP_USER):
        with pytest.raises(ValueError, match="letters, digits"):
            check_node_name(bad)
