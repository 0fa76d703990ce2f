"""Every integer and string from outside is bounded and checked the same way (the types of
``vigil.api.types``): a NUL or another control character is refused naming the field and
nothing is stored; an id out of range is 422 on every route, never a 500 from the database.

The generic tests walk the OpenAPI schema, so a route or a field added later is covered
without a line here: every integer path and query parameter is sent below its minimum and
past any 64-bit integer, every string query parameter a NUL, and every field of every request
body must declare its bounds.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.api.conftest import AddCamera
from vigil.api.app import create_app
from vigil.app import Services
from vigil.settings import Settings
from vigil.store.models import Upload
from vigil.timeutil import now_ms

PROBLEM = "application/problem+json"
OVERFLOW = "99999999999999999999999"  # past 2**63: SQLite and PostgreSQL both overflow on it
NUL = "a\x00b"
TUS = {"Tus-Resumable": "1.0.0"}
JSON = {"Content-Type": "application/json"}
Json = dict[str, Any]


def locations(response: httpx.Response) -> list[str]:
    """The fields a 422 problem names; fails on any other answer."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:vigil:problem:invalid-request"
    return [error["location"] for error in problem["errors"]]


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


# -- NUL and other control characters, where the probe found them and around


async def test_a_nul_in_a_username_is_refused_and_nobody_is_added(
    client: httpx.AsyncClient,
) -> None:
    for body, location in (
        ({"username": NUL, "role": "viewer"}, "body.username"),
        ({"username": "ada", "role": "viewer", "display_name": NUL}, "body.display_name"),
        ({"username": "ada", "role": "viewer", "email": "a\x00@example.org"}, "body.email"),
        ({"username": "ada", "role": "viewer", "password": "amber\x00lantern-47"}, "body.password"),
    ):
        assert locations(await client.post("/api/users", json=body)) == [location]
    assert [u["username"] for u in (await client.get("/api/users")).json()] == ["admin"]
    # Signing in with one is the same 422, not a sign-in attempt.
    login = await client.post("/api/auth/login", json={"username": NUL, "password": "x"})
    assert locations(login) == ["body.username"]


async def test_names_refuse_control_characters_and_are_stored_stripped(
    client: httpx.AsyncClient, dead_url: str
) -> None:
    for name in (NUL, "tab\there", "new\nline", "bell\x07!", "c1\x85!", "lone\ud800surrogate"):
        # As JSON escapes (\u0000, \ud800), the way a client's JSON library sends them.
        body = json.dumps({"name": name, "main_url": dead_url, "enabled": False})
        sent = await client.post("/api/cameras", content=body, headers=JSON)
        assert locations(sent) == ["body.name"], name
    # Zone names and labels of the detection settings alike.
    zone = {"name": NUL, "polygon": [[0, 0], [1, 0], [1, 1]]}
    for detection, where in (
        ({"zones": [zone]}, "body.detection.zones.0.name"),
        ({"labels": ["person", NUL]}, "body.detection.labels.1"),
        ({"labels": ["person", "x" * 65]}, "body.detection.labels.1"),
        ({"filters": {"  ": {}}}, "body.detection.filters.  .[key]"),
    ):
        body = {"name": "Yard", "main_url": dead_url, "enabled": False, "detection": detection}
        refused = await client.post("/api/cameras", json=body)
        assert locations(refused) == [where]
    assert (await client.get("/api/cameras")).json() == []
    made = await client.post(
        "/api/cameras", json={"name": "  Porch \n", "main_url": dead_url, "enabled": False}
    )
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "Porch"
    site = await client.post("/api/sites", json={"name": "Main", "address": f"1 {NUL} Street"})
    assert locations(site) == ["body.address"]


async def test_library_event_names_and_descriptions(client: httpx.AsyncClient) -> None:
    start = now_ms() // 1000
    for body, location in (
        ({"name": NUL, "start": start}, "body.name"),
        ({"name": "Open day", "place": NUL, "start": start}, "body.place"),
        ({"name": "Open day", "description": NUL, "start": start}, "body.description"),
        ({"name": "Open day", "description": "bell\x07", "start": start}, "body.description"),
        ({"name": "x" * 201, "start": start}, "body.name"),
        ({"name": "Open day", "description": "x" * 5001, "start": start}, "body.description"),
    ):
        assert locations(await client.post("/api/library/events", json=body)) == [location]
    assert (await client.get("/api/library/events")).json() == []
    # Free text keeps its lines and tabs (a CRLF becomes a LF).
    text = "Doors at 9.\r\n\tBring a packed lunch."
    made = await client.post(
        "/api/library/events", json={"name": "Open day", "description": text, "start": start}
    )
    assert made.status_code == 201, made.text
    assert made.json()["description"] == "Doors at 9.\n\tBring a packed lunch."


async def test_export_titles(client: httpx.AsyncClient, add_camera: AddCamera) -> None:
    camera_id = (await add_camera(enabled=False))["id"]
    end = now_ms() // 1000
    body = {"camera_ids": [camera_id], "start": end - 60, "end": end, "title": NUL}
    assert locations(await client.post("/api/exports", json=body)) == ["body.title"]
    body["camera_ids"] = [int(OVERFLOW)]
    assert set(locations(await client.post("/api/exports", json=body))) == {
        "body.camera_ids.0",
        "body.title",
    }
    assert (await client.get("/api/exports")).json() == []


async def test_share_link_passwords_are_long_enough(client: httpx.AsyncClient) -> None:
    for password in ("1234567", "amber\x00lantern", "x" * 201):
        body = {"item_id": 1, "password": password}
        assert locations(await client.post("/api/library/shares", json=body)) == ["body.password"]
    assert (await client.get("/api/library/shares")).json() == []


# -- tus metadata


async def _stored_uploads(services: Services) -> int:
    async with services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Upload)) or 0)


async def test_tus_metadata_is_checked_like_any_input(
    client: httpx.AsyncClient, services: Services
) -> None:
    def create(meta: str) -> Any:
        headers = {**TUS, "Upload-Length": "1000", "Upload-Metadata": meta}
        return client.post("/api/uploads", headers=headers)

    for meta, location in (
        (metadata(filename="a.jpg", event_id=OVERFLOW), "event_id"),
        (metadata(filename="a.jpg", event_id="0"), "event_id"),
        (metadata(filename="a.jpg", event_id="seven"), "event_id"),
        (metadata(filename="../a\x00.jpg"), "filename"),
        (metadata(name="a\x00.jpg"), "filename"),  # Uppy's name for it
        (metadata(filename="a.jpg", title=NUL), "title"),
        (metadata(filename="a.jpg", description=NUL), "description"),
        (metadata(filename="a.jpg", tags=f"fine, {NUL}"), "tags.1"),
        (metadata(filename="a.jpg", title="x" * 201), "title"),
    ):
        response = await create(meta)
        assert response.headers["tus-resumable"] == "1.0.0"
        assert locations(response) == [f"header.Upload-Metadata.{location}"], meta
    broken = await create("filename not-base64!")
    assert (broken.status_code, broken.headers["content-type"]) == (400, PROBLEM)
    assert "not base64" in broken.json()["detail"]
    assert await _stored_uploads(services) == 0
    uploads = services.settings.data_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []

    # What passes is kept as checked: stripped, the tags one by one, unknown keys dropped.
    event = await client.post("/api/library/events", json={"name": "Trip", "start": 0})
    event_id = str(event.json()["id"])
    made = await create(
        metadata(name=" a.jpg ", title="Beach", tags="sea, sand,", event_id=event_id, x="y")
    )
    assert made.status_code == 201, made.text
    status = await client.head(made.headers["location"], headers=TUS)
    pairs = dict(pair.split(" ") for pair in status.headers["upload-metadata"].split(","))
    kept = {key: base64.b64decode(value).decode() for key, value in pairs.items()}
    assert kept == {
        "filename": "a.jpg",
        "title": "Beach",
        "tags": "sea, sand",
        "event_id": event_id,
    }


# -- every route, from the OpenAPI schema


@functools.cache
def _spec() -> Json:
    spec: Json = create_app(Settings(secret_key="x")).openapi()
    return spec


def _operations(spec: Json | None = None) -> Iterator[tuple[str, str, Json]]:
    for path, item in (spec or _spec())["paths"].items():
        for method, operation in item.items():
            if method in {"get", "head", "post", "put", "patch", "delete"}:
                yield method.upper(), path, operation


def _variants(schema: Json) -> list[Json]:
    """The non-null alternatives of a schema (``X | None`` is an anyOf)."""
    options = schema.get("anyOf", [schema])
    return [option for option in options if option.get("type") != "null"]


def _bad_numbers(schema: Json) -> list[str]:
    """Values out of an integer's or number's range: below its minimum, past 64 bits."""
    bad = []
    for option in _variants(schema):
        if option.get("type") == "array":
            bad += _bad_numbers(option["items"])
        elif option.get("type") == "integer":
            bad += [str(int(option["minimum"]) - 1), OVERFLOW]
        elif option.get("type") == "number":
            bad += [str(option["minimum"] - 1), "1e30"]
    return bad


def _is_free_string(schema: Json) -> bool:
    """A string parameter that is not one of a list of values."""
    for option in _variants(schema):
        if option.get("type") == "array":
            return _is_free_string(option["items"])
        if option.get("type") == "string" and "enum" not in option and "const" not in option:
            return True
    return False


class Paths:
    """Good values for path parameters, so that only the one under test is wrong."""

    def __init__(self, camera_id: int) -> None:
        self.good = {
            "camera_id": str(camera_id),
            "path": "1/x.mp4",
            "name": "manifest.json",
            "upload_id": "0" * 32,
            "token": "a" * 43,
        }

    def url(self, template: str, operation: Json, given: dict[str, str] | None = None) -> str:
        path = template
        for param in operation.get("parameters", []):
            if param["in"] != "path":
                continue
            name = param["name"]
            enum = param["schema"].get("enum")
            value = (given or {}).get(name) or self.good.get(name) or (enum[0] if enum else "1")
            path = path.replace(f"{{{name}}}", value)
        return path


async def _send(http: httpx.AsyncClient, method: str, url: str, **params: str) -> httpx.Response:
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    return await http.request(method, url, params=params, json=body)


async def test_ids_out_of_range_in_any_path_are_422(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    """Signed in, the answer names the parameter. Without a session, routes that check who
    is calling before reading their parameters answer 401 first, the others 422: both say
    nothing about what exists, neither is ever a 500."""
    paths = Paths((await add_camera(enabled=False))["id"])
    tried = 0
    for method, path, operation in _operations():
        for param in operation.get("parameters", []):
            if param["in"] != "path" or not _bad_numbers(param["schema"]):
                continue
            name = param["name"]
            for value in _bad_numbers(param["schema"]):
                url = paths.url(path, operation, {name: value})
                answer = await _send(client, method, url)
                where = f"{method} {url}"
                assert answer.status_code == 422, (where, answer.status_code, answer.text)
                if method != "HEAD":
                    assert f"path.{name}" in locations(answer), where
                stranger = await _send(anonymous, method, url)
                assert stranger.status_code in (401, 422), (where, stranger.text)
                tried += 1
    assert tried >= 40  # the schema lists the routes: an empty walk would prove nothing


async def test_numbers_out_of_range_in_any_query_are_422(
    client: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    paths = Paths((await add_camera(enabled=False))["id"])
    tried = 0
    for method, path, operation in _operations():
        url = paths.url(path, operation)
        for param in operation.get("parameters", []):
            if param["in"] != "query":
                continue
            name = param["name"]
            for value in _bad_numbers(param["schema"]):
                answer = await _send(client, method, url, **{name: value})
                named = [loc for loc in locations(answer) if loc.split(".")[:2] == ["query", name]]
                assert named, (method, url, name, value, answer.text)
                tried += 1
    assert tried >= 20


async def test_a_nul_in_any_string_parameter_is_refused(
    client: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    """Query strings: 422 naming them. Path strings: 422, or 404 where the route answers
    every key it does not hold alike (a recording's storage key, an export's file)."""
    paths = Paths((await add_camera(enabled=False))["id"])
    tried = 0
    for method, path, operation in _operations():
        for param in operation.get("parameters", []):
            if param["in"] not in ("path", "query") or not _is_free_string(param["schema"]):
                continue
            name = param["name"]
            if param["in"] == "query":
                answer = await _send(client, method, paths.url(path, operation), **{name: NUL})
                named = [loc for loc in locations(answer) if loc.split(".")[:2] == ["query", name]]
                assert named, (method, path, name, answer.text)
            else:
                url = paths.url(path, operation, {name: "a%00b"})
                answer = await _send(client, method, url)
                assert answer.status_code in (404, 422), (method, url, answer.text)
            tried += 1
    assert tried >= 10


# -- every request body and parameter declares its bounds


def _unbounded(spec: Json) -> set[str]:
    """Every string without a maximum length (or a list of values), integer or number
    without both bounds, list without a maximum size, in request bodies and parameters."""
    components = spec["components"]["schemas"]
    seen: set[str] = set()
    found: set[str] = set()

    def walk(schema: Json, where: str) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                walk(components[name], name)
            return
        for option in schema.get("anyOf", []) + schema.get("allOf", []):
            walk(option, where)
        kind = schema.get("type")
        if kind == "string" and not {"maxLength", "enum", "const"} & schema.keys():
            found.add(f"{where}: string without maxLength")
        if kind in ("integer", "number"):
            if not {"minimum", "exclusiveMinimum"} & schema.keys():
                found.add(f"{where}: {kind} without minimum")
            if not {"maximum", "exclusiveMaximum"} & schema.keys():
                found.add(f"{where}: {kind} without maximum")
        if kind == "array":
            if "maxItems" not in schema and "maxLength" not in schema:
                found.add(f"{where}: array without maxItems")
            walk(schema.get("items", {}), f"{where}[]")
        for name, field in schema.get("properties", {}).items():
            walk(field, f"{where}.{name}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "maxProperties" not in schema:
                found.add(f"{where}: object without maxProperties")
            walk(extra, f"{where}{{}}")

    for method, path, operation in _operations(spec):
        for param in operation.get("parameters", []):
            walk(param["schema"], f"{method} {path} {param['in']}.{param['name']}")
        for content in operation.get("requestBody", {}).get("content", {}).values():
            walk(content["schema"], f"{method} {path} body")
    return found


def test_every_field_from_outside_is_bounded() -> None:
    assert sorted(_unbounded(_spec())) == []


def test_the_walk_finds_an_unbounded_field() -> None:
    """The check above is only as good as its walk: an unbounded string, integer and list in a
    body, and an unbounded integer query parameter, are each found."""
    spec = {
        "components": {
            "schemas": {
                "Thing": {
                    "properties": {
                        "note": {"type": "string"},
                        "count": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
                        "ids": {"type": "array", "items": {"type": "integer", "minimum": 1}},
                    }
                }
            }
        },
        "paths": {
            "/things": {
                "post": {
                    "parameters": [{"in": "query", "name": "n", "schema": {"type": "integer"}}],
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/x/Thing"}}}
                    },
                }
            }
        },
    }
    assert _unbounded(spec) == {
        "Thing.note: string without maxLength",
        "Thing.count: integer without maximum",
        "Thing.ids: array without maxItems",
        "Thing.ids[]: integer without maximum",
        "POST /things query.n: integer without minimum",
        "POST /things query.n: integer without maximum",
    }
