"""Who says what on the bus: subject names, and what each user may publish and read.

A node's name is part of every subject it uses, so the server's permissions alone keep a
node to its own: it cannot read another node's calls or replies, speak for another node,
or call the application side in another node's name.
"""

from __future__ import annotations

import re
from typing import Any

# A node's name is one subject token: letters, digits, '-' and '_'.
NODE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The user every application instance connects as (nodes connect as their own name).
APP_USER = "vigil-app"
# Segments, events and motion, delivered at least once (JetStream).
REPORTS_STREAM = "VIGIL_REPORTS"
# Each node's last beat (JetStream key-value): which nodes are alive.
NODES_BUCKET = "vigil-nodes"
# Which node holds each camera, under which assignment (JetStream key-value): the fence.
ASSIGNMENTS_BUCKET = "vigil-assignments"


def check_node_name(node: str) -> str:
    if not NODE_NAME.fullmatch(node) or node == APP_USER:
        raise ValueError(
            f"node name {node!r}: use 1-64 letters, digits, '-' or '_' (it names the node's "
            "subjects on the bus)"
        )
    return node


def node_call(node: str, method: str) -> str:
    """The application side asks ``node`` (request/reply)."""
    return f"vigil.node.{node}.call.{method}"


def app_call(node: str, method: str) -> str:
    """``node`` asks the application side (request/reply, one app instance answers)."""
    return f"vigil.app.{node}.call.{method}"


def report(node: str, kind: str) -> str:
    """What ``node`` reports through its outbox, kept on the ``REPORTS_STREAM``."""
    return f"vigil.report.{node}.{kind}"


def live(node: str, camera_id: int) -> str:
    """A camera's live fragments, published only while someone watches."""
    return f"vigil.live.{node}.{camera_id}"


def node_beat(node: str) -> str:
    """Where ``node`` puts its beat: its key in ``NODES_BUCKET``."""
    return f"$KV.{NODES_BUCKET}.{node}"


def assignment_get(camera_id: int) -> str:
    """Where anyone may read one camera's assignment (JetStream's direct get): nodes may
    read the bucket this way only, a key at a time, and never write it."""
    stream = f"KV_{ASSIGNMENTS_BUCKET}"
    return f"$JS.API.DIRECT.GET.{stream}.$KV.{ASSIGNMENTS_BUCKET}.{camera_id}"


def inbox(user: str) -> str:
    """Where ``user``'s replies come: its own, so that no one else can read them."""
    return f"_INBOX.{user}"


def node_permissions(node: str) -> dict[str, Any]:
    """What nats-server lets ``node`` touch: its own subjects and replies, nothing more."""
    check_node_name(node)
    return {
        "publish": {
            "allow": [
                f"vigil.app.{node}.>",
                f"vigil.report.{node}.>",
                f"vigil.live.{node}.>",
                node_beat(node),
                f"$JS.API.DIRECT.GET.KV_{ASSIGNMENTS_BUCKET}.$KV.{ASSIGNMENTS_BUCKET}.*",
            ]
        },
        "subscribe": {"allow": [f"vigil.node.{node}.>", f"{inbox(node)}.>"]},
        # Answering the application's requests: only to the inbox a request names, once.
        "allow_responses": {"max": 1},
    }


# Application instances are trusted with the whole bus: they manage JetStream, answer every
# node and may reach any of them.
APP_PERMISSIONS: dict[str, Any] = {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
