"""openapi.json describes exactly the contract in shared/design/API.md and API-HOST.md (version 1.1)
(no server needed).

- the document is valid OpenAPI 3.1;
- the (method, path) set of API.md's and of API-HOST.md's endpoint tables is the document's, the
  API-HOST.md ones tagged `host` (at that row's level);
- each table row's level equals the operations' `x-shm-admin-level`, and `security` agrees with it;
- every metric API.md names is in the /metrics operation's description;
- error statuses are the ones API.md's status table knows, and the ones every level / body kind needs;
- request bodies are closed (`additionalProperties: false`), the Section example of API.md fits Section.
"""

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

REPO = Path(__file__).resolve().parents[2]
OPENAPI = REPO / "openapi.json"
API_MD = REPO.parent / "shared/design/API.md"
API_HOST_MD = REPO.parent / "shared/design/API-HOST.md"

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
LEVELS = {"public", "read", "admin"}


@pytest.fixture(scope="module")
def doc():
    with OPENAPI.open(encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def api_md():
    if not API_MD.is_file():
        pytest.skip(f"the API contract {API_MD} is absent (shared/ is not checked out next to the repo)")
    return API_MD.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def api_host_md():
    if not API_HOST_MD.is_file():
        pytest.skip(f"the API contract {API_HOST_MD} is absent (shared/ is not checked out next to the repo)")
    return API_HOST_MD.read_text(encoding="utf-8")


def section(md, heading):
    """The text under the `## heading...` line up to the next `## ` heading."""
    m = re.search(rf"^## {re.escape(heading)}[^\n]*\n(.*?)(?=^## |\Z)", md, re.M | re.S)
    assert m, f"API.md has no '## {heading}' section"
    return m.group(1)


def table_rows(text):
    """Cells of a markdown table's body rows (header and separator dropped)."""
    rows = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("|")]
    assert len(rows) > 2, "no table found"
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows[2:]]


def norm_path(p):
    p = p.split("?", 1)[0]
    p = re.sub(r"\{[^}]*\}", "{}", p)
    # A segment made of parameters only (API-HOST.md's `{device}:{inode}`) is one parameter.
    p = re.sub(r"(?<=/)\{\}(?::\{\})+(?=/|$)", "{}", p)
    p = re.sub(r"(…|\.\.\.)$", "{}", p)
    return p


def md_endpoints(md):
    """{(METHOD, normalised path): level} from API.md's endpoint table."""
    out = {}
    for cells in table_rows(section(md, "Endpoints")):
        first, level = cells[0], cells[1]
        pending = []
        ops = []
        for seg in re.findall(r"`([^`]+)`", first):
            seg = seg.strip()
            if re.fullmatch(r"[A-Z]+", seg):
                pending.append(seg)
                continue
            m = re.fullmatch(r"([A-Z]+)\s+(\S+)", seg)
            assert m, f"cannot parse endpoint {seg!r} in row {first!r}"
            for method in pending + [m.group(1)]:
                ops.append((method, norm_path(m.group(2))))
            pending = []
        assert ops and not pending, f"cannot parse endpoint row {first!r}"
        for key in ops:
            assert key not in out, f"{key} listed twice in API.md"
            out[key] = level
    return out


def doc_operations(doc):
    """{(METHOD, normalised path): (path, operation)}."""
    out = {}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                key = (method.upper(), norm_path(path))
                assert key not in out, f"{key} twice in openapi.json"
                out[key] = (path, operation)
    return out


def resolve(doc, obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = doc
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def test_valid_openapi_31(doc):
    assert doc["openapi"] == "3.1.0"
    validate(doc, cls=OpenAPIV31SpecValidator)


def test_endpoints_match_api_md(doc, api_md, api_host_md):
    want = set(md_endpoints(api_md))
    host = set(md_endpoints(api_host_md))
    have = set(doc_operations(doc))
    assert not want & host, f"API-HOST.md repeats endpoints of API.md: {sorted(want & host)}"
    assert want <= have, f"in API.md only: {sorted(want - have)}"
    assert host <= have, f"in API-HOST.md only: {sorted(host - have)}"
    assert have - want <= host, f"in openapi.json only: {sorted(have - want - host)}"


def test_host_endpoints_are_tagged(doc, api_host_md):
    host = set(md_endpoints(api_host_md))
    for key, (path, op) in doc_operations(doc).items():
        assert (key in host) == ("host" in op.get("tags", [])), f"{key}: tag host iff an API-HOST.md endpoint"


def test_levels_match_api_md(doc, api_md, api_host_md):
    ops = doc_operations(doc)
    wrong = {}
    for key, level in {**md_endpoints(api_md), **md_endpoints(api_host_md)}.items():
        if key in ops and ops[key][1].get("x-shm-admin-level") != level:
            wrong[key] = (level, ops[key][1].get("x-shm-admin-level"))
    assert not wrong, f"level in API.md vs x-shm-admin-level: {wrong}"


def test_security_follows_level(doc):
    for (method, _), (path, op) in doc_operations(doc).items():
        level = op.get("x-shm-admin-level")
        assert level in LEVELS, f"{method} {path}: x-shm-admin-level {level!r}"
        sec = op.get("security")
        if level == "public":
            assert sec == [], f"{method} {path} is public: security must be []"
        elif level == "admin":
            assert sec == [{"bearerAuth": []}], f"{method} {path} is admin: bearer required"
        else:  # read: bearer, and anonymous on a loopback bind without --read-token-file
            assert {"bearerAuth": []} in sec, f"{method} {path} is read: bearer accepted"
        if level != "public":
            assert {"401", "403"} <= set(op["responses"]), f"{method} {path}: 401/403 missing"


def test_metrics_named_in_description(doc, api_md):
    text = section(api_md, "Metrics")
    metrics = re.findall(r"`(shm_admin_\w+(?:\{[^}`]*\})?)`", text)
    bare = set(re.findall(r"shm_admin_\w+", text))
    assert len(bare) >= 10, f"too few metric names parsed from API.md: {bare}"
    desc = doc["paths"]["/metrics"]["get"]["description"]
    missing = sorted(m for m in bare if not re.search(rf"\b{m}\b", desc))
    assert not missing, f"metrics not in the /metrics description: {missing}"
    missing_labels = sorted(m for m in metrics if m not in desc)
    assert not missing_labels, f"metric label sets not in the /metrics description: {missing_labels}"
    content = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain; version=0.0.4"]


def test_host_metrics_in_description_are_api_host_md_names(doc, api_md, api_host_md):
    """Every metric the description names is API.md's or API-HOST.md's (the built part of 1.1)."""
    known = set(re.findall(r"shm_admin_\w+", section(api_md, "Metrics")))
    known |= set(re.findall(r"shm_admin_\w+", section(api_host_md, "Metrics (additions)")))
    desc = doc["paths"]["/metrics"]["get"]["description"]
    unknown = sorted(set(re.findall(r"shm_admin_\w+", desc)) - known)
    assert not unknown, f"/metrics names metrics no contract has: {unknown}"


def test_error_statuses_are_api_md_statuses(doc, api_md):
    known = set()
    for cells in table_rows(section(api_md, "Errors")):
        known |= set(re.findall(r"\b[1-5][0-9]{2}\b", cells[0]))
    assert {"400", "404", "422", "507"} <= known, known
    for (method, _), (path, op) in doc_operations(doc).items():
        for status, resp in op["responses"].items():
            if status.startswith(("4", "5")):
                assert status in known, f"{method} {path}: {status} is not in API.md's status table"
                media = resolve(doc, resp)["content"]
                assert list(media) == ["application/problem+json"], f"{method} {path} {status}"


def test_bodies_and_queries_have_their_errors(doc):
    for (method, _), (path, op) in doc_operations(doc).items():
        statuses = set(op["responses"])
        if any(resolve(doc, p)["in"] == "query" for p in op.get("parameters", [])):
            assert "400" in statuses, f"{method} {path} takes a query: 400 missing"
        body = op.get("requestBody")
        if body is None:
            continue
        content = resolve(doc, body)["content"]
        assert {"400", "413", "415"} <= statuses, f"{method} {path}: 400/413/415 missing"
        if "application/json" in content:
            assert "422" in statuses, f"{method} {path}: 422 missing"


def closed_objects(doc, schema, where):
    """Every object schema reachable from a request body is closed."""
    schema = resolve(doc, schema)
    if schema.get("type") == "object" or "properties" in schema:
        assert schema.get("additionalProperties") is False, f"{where}: additionalProperties must be false"
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, []):
            closed_objects(doc, sub, where)


def test_request_bodies_are_closed(doc):
    for (method, _), (path, op) in doc_operations(doc).items():
        body = op.get("requestBody")
        if body and "application/json" in resolve(doc, body)["content"]:
            closed_objects(doc, resolve(doc, body)["content"]["application/json"]["schema"], f"{method} {path}")


def schema_validator(doc, name):
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": doc["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def test_api_md_section_example_fits(doc, api_md):
    m = re.search(r"```json\n(.*?)```", section(api_md, "A section in JSON"), re.S)
    assert m, "no JSON example under 'A section in JSON'"
    example = json.loads(m.group(1))
    schema_validator(doc, "Section").validate(example)
    foreign = dict(example, managed=False, reserve=None, labels={})
    schema_validator(doc, "Section").validate(foreign)
    assert not schema_validator(doc, "Section").is_valid(dict(example, commit="1"))


@pytest.mark.parametrize(
    "name, instance, ok",
    [
        ("CreateSectionRequest", {"reserve": "64MiB", "commit": 4096}, True),
        ("CreateSectionRequest", {"reserve": 1, "bogus": 1}, False),
        ("CreateSectionRequest", {"commit": 1}, False),
        ("CreateSectionRequest", {"name": "..", "reserve": 1}, False),
        ("CreateSectionRequest", {"name": "a/b", "reserve": 1}, False),
        ("CreateSectionRequest", {"name": "a\\b", "reserve": 1}, False),
        ("CreateSectionRequest", {"name": "a\x01b", "reserve": 1}, False),
        ("CreateSectionRequest", {"name": "orders é", "namespace": "global", "reserve": 1}, True),
        ("CreateSectionRequest", {"reserve": 1, "namespace": "world"}, False),
        ("GrowRequest", {"commit": "1GiB"}, True),
        ("GrowRequest", {"by": 4096}, True),
        ("GrowRequest", {"commit": 1, "by": 1}, False),
        ("GrowRequest", {}, False),
        ("Size", "64 KiB", True),
        ("Size", "1.5GiB", False),
        ("Size", -1, False),
        ("MoveRequest", {"oldAddress": "0x7f12a4000000", "newAddress": None}, True),
        ("LockRequest", {"mode": "exclusive", "timeoutMs": 60001}, False),
        ("HexRow", {"offset": 0, "hex": "48 65 6c", "ascii": "Hel"}, True),
        ("HexRow", {"offset": 0, "hex": "48656c", "ascii": "Hel"}, False),
    ],
)
def test_schema_samples(doc, name, instance, ok):
    assert schema_validator(doc, name).is_valid(instance) is ok
