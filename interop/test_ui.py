"""The admin web UI (/ui) and its JSON API (/api/v1), in a real headless Chromium.

The browser is Debian's chromium with its chromedriver, driven by selenium. A screenshot of
each page goes to $STRATA_TEST_ARTIFACTS (scripts/test.sh points it under
target/test-logs), else to a directory under pytest's temporary directory.

Records are produced and consumed by confluent-kafka; what the UI shows is checked against
what those clients did, and the offset reset the UI applies is checked through a client.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from broker import Broker, free_port
from clients import COMMON, producer, unique_topic

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

ADMIN = "admin"
ADMIN_PW = f"admin-{uuid.uuid4().hex[:12]}"


# --- helpers ----------------------------------------------------------------------------------

def call(b: Broker, method: str, path: str, body=None, auth=None) -> tuple[int, dict, dict]:
    """An /api/v1 (or any) call: (status, JSON body or {}, headers by lower-case name)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(b.http_base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            raw, status, headers = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, headers = e.read(), e.code, e.headers
    headers = {k.lower(): v for k, v in headers.items()}
    try:
        parsed = json.loads(raw) if raw[:1] in (b"{", b"[") else {}
    except ValueError:
        parsed = {}
    return status, parsed, headers


def wait_until(what: str, fn, timeout: float = 30.0, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> pathlib.Path:
    env = os.environ.get("STRATA_TEST_ARTIFACTS")
    path = pathlib.Path(env) if env else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("chromium and chromedriver are needed (Debian: chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--no-first-run", "--window-size=1400,1000",
              f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


class Page:
    """The UI in the browser: navigation, waits on stable ids, screenshots."""

    def __init__(self, driver, b: Broker, artifacts: pathlib.Path, prefix: str):
        self.d, self.b, self.artifacts, self.prefix = driver, b, artifacts, prefix

    def open(self, hash_: str = "#/") -> None:
        self.d.get(f"{self.b.http_base}/ui/{hash_}")

    def go(self, hash_: str) -> None:
        self.d.execute_script("location.hash = arguments[0]", hash_)

    def el(self, testid: str):
        from selenium.webdriver.common.by import By
        return self.d.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def by_id(self, id_: str):
        from selenium.webdriver.common.by import By
        return self.d.find_element(By.ID, id_)

    def text(self, testid: str) -> str:
        return self.el(testid).text

    def wait_text(self, testid: str, pred, what: str | None = None, timeout: float = 30.0) -> str:
        return wait_until(what or f"{testid} text", lambda: (
            lambda t: t if pred(t) else None)(self.text(testid)), timeout)

    def wait_el(self, testid: str, timeout: float = 30.0):
        return wait_until(f"element {testid}", lambda: self.el(testid), timeout)

    def type(self, id_: str, value: str) -> None:
        e = self.by_id(id_)
        e.clear()
        e.send_keys(value)

    def shot(self, name: str) -> None:
        path = self.artifacts / f"{self.prefix}-{name}.png"
        assert self.d.save_screenshot(str(path)), f"screenshot {path} not saved"

    def banner(self) -> str:
        e = self.by_id("banner")
        return "" if "hidden" in (e.get_attribute("class") or "") else e.text


@pytest.fixture(scope="module")
def ui_broker(tmp_path_factory):
    b = Broker(tmp_path_factory.mktemp("ui"), "ui",
               ["--set", "group.initial.rebalance.delay.ms=0"])
    b.start()
    yield b
    b.assert_alive()
    code = b.stop()
    assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> list[int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, **COMMON})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=15)
        return [tp.offset for tp in sorted(tps, key=lambda tp: tp.partition)]
    finally:
        c.close()


def consume_and_commit(c: Consumer, n: int, timeout: float = 30.0) -> None:
    got = 0
    deadline = time.monotonic() + timeout
    while got < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        assert m.error() is None, m.error()
        got += 1
    assert got == n, f"consumed {got} of {n}"
    c.commit(asynchronous=False)


# --- the UI against a real broker and real clients -------------------------------------------

def test_overview_topics_messages_groups_and_reset(ui_broker, browser, artifacts):
    b = ui_broker
    ui = Page(browser, b, artifacts, "ui")

    # Overview: the lone broker is its own controller, healthy; the chart is drawn.
    ui.open("#/")
    ui.wait_text("ov-health", lambda t: t == "healthy")
    assert ui.text("ov-controller") == "1"
    assert ui.text("ov-cluster")
    ui.wait_el("ov-brokers")
    ui.shot("overview")

    # Create a topic through the UI.
    topic = unique_topic("ui")
    ui.go("#/topics")
    ui.wait_el("topic-create-name")
    ui.type("topic-create-name", topic)
    ui.type("topic-create-partitions", "2")
    ui.el("topic-create-submit").click()
    ui.wait_text("topic-name", lambda t: t == topic)
    ui.wait_el("partition-row-1")
    assert ui.banner() == ""
    ui.shot("topic")

    # It is in the list, found by the server-side search.
    ui.go("#/topics?search=" + topic[-6:])
    ui.wait_el(f"topic-row-{topic}")
    assert ui.text("topic-page-info").endswith("of 1")
    ui.shot("topics")

    # Produce through a real client; find the records in the message browser.
    p = producer(b.bootstrap)
    for i in range(10):
        p.produce(topic, key=f"k-{i}", value=json.dumps({"n": i}), partition=0,
                  headers=[("h", f"v{i}".encode())])
    assert p.flush(20) == 0
    ui.go("#/messages?" + urllib.parse.urlencode({"topic": topic, "partition": "0", "offset": "0",
                                                  "format": "json"}))
    ui.wait_el("msg-row-9")
    row = ui.el("msg-row-3").text
    assert "k-3" in row and '"n": 3' in row and "v3" in row, row
    assert "10 records from offset 0" in ui.text("msg-summary")
    ui.shot("messages")
    # By timestamp: from now on there is nothing yet.
    ui.go("#/messages?" + urllib.parse.urlencode(
        {"topic": topic, "partition": "0", "timestamp": str(int(time.time() * 1000) + 60_000)}))
    ui.wait_text("msg-summary", lambda t: t.startswith("0 records"))
    # Hex: the key "k-0" is 6b 2d 30.
    ui.go("#/messages?" + urllib.parse.urlencode({"topic": topic, "partition": "0", "offset": "0",
                                                  "limit": "1", "format": "hex"}))
    ui.wait_text("msg-row-0", lambda t: "6b 2d 30" in t)

    # A consumer group that commits: its lag appears, then falls to zero.
    group = "ui-group-" + uuid.uuid4().hex[:6]
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 10_000, **COMMON})
    c.subscribe([topic])
    try:
        consume_and_commit(c, 10)
        ui.go("#/groups")
        ui.wait_el(f"group-row-{group}")
        ui.shot("groups")
        ui.go("#/groups/" + group)
        ui.wait_text("group-state", lambda t: t == "Stable")
        ui.wait_text("group-total-lag", lambda t: t == "0")
        for i in range(15):
            p.produce(topic, key=f"more-{i}", value=f"m{i}", partition=0)
        assert p.flush(20) == 0
        ui.wait_text("group-total-lag", lambda t: t == "15", "lag to appear")
        ui.wait_el("lag-chart")
        ui.shot("group-lag")
        consume_and_commit(c, 15)
        ui.wait_text("group-total-lag", lambda t: t == "0", "lag to fall to zero")
        ui.shot("group-caught-up")
        # A group with members refuses resets (Kafka's rule), with a message.
        status, body, _ = call(b, "POST", f"/api/v1/groups/{group}/reset-offsets",
                               {"topic": topic, "to": "earliest", "dry_run": True})
        assert status == 409 and "active member" in body["error"], body
    finally:
        c.close()

    # Stopped: the group is empty; reset to earliest, dry run first, then apply.
    ui.wait_text("group-state", lambda t: t == "Empty")
    before = committed(b.bootstrap, group, topic, 2)
    assert before[0] == 25, before  # partition 1 never had a record, so no commit
    # The form offers the group's topic.
    wait_until("reset topic filled", lambda: ui.by_id("reset-topic").get_attribute("value") == topic)
    ui.el("reset-dry-run").click()
    ui.wait_text("reset-status", lambda t: t.startswith("Dry run"))
    assert ui.text("reset-target-0") == "0" and ui.text("reset-target-1") == "0"
    assert committed(b.bootstrap, group, topic, 2) == before, "a dry run changed nothing"
    ui.shot("reset-dry-run")
    ui.el("reset-apply").click()
    wait_until("confirmation", lambda: ui.by_id("confirm-yes").is_displayed())
    ui.by_id("confirm-yes").click()
    ui.wait_text("reset-status", lambda t: t.startswith("Applied"))
    assert committed(b.bootstrap, group, topic, 2) == [0, 0]
    ui.wait_text("group-total-lag", lambda t: t == "25")  # 25 on partition 0, 0 on 1
    ui.shot("reset-applied")
    assert ui.banner() == ""

    # Back on the overview, the traffic shows in the rates between samples.
    ui.go("#/")
    ui.wait_text("ov-health", lambda t: t == "healthy")
    time.sleep(2.5)
    ui.shot("overview-after-traffic")
    _, o, _ = call(b, "GET", "/api/v1/overview")
    assert any(r["bytes_in"] > 0 and r["records_in"] > 0 for r in o["history"]), o["history"]


def test_schemas_and_records_decoded_through_the_registry(ui_broker, browser, artifacts):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from test_registry import USER_V1, protobuf_classes

    b = ui_broker
    client = SchemaRegistryClient({"url": b.registry_url})
    Order = protobuf_classes()
    order = Order(id=7, item="thing-7")
    order.price.cents = 700
    order.price.currency = "EUR"
    json_schema = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "title": "Item",
                              "type": "object", "properties": {"id": {"type": "integer"}}})
    cases = [
        ("avro", AvroSerializer(client, USER_V1), {"name": "ann", "age": 41}, "AVRO",
         {"name": "ann", "age": 41}),
        ("json", JSONSerializer(json_schema, client), {"id": 5}, "JSON", {"id": 5}),
        ("proto", ProtobufSerializer(Order, client, {"use.deprecated.format": False}), order,
         "PROTOBUF", {"id": "7", "item": "thing-7", "price": {"cents": "700", "currency": "EUR"}}),
    ]
    p = producer(b.bootstrap)
    topics = {}
    for kind, serializer, value, _, _ in cases:
        topic = unique_topic("reg-" + kind)
        topics[kind] = topic
        p.produce(topic, key=b"plain-key",
                  value=serializer(value, SerializationContext(topic, MessageField.VALUE)))
        assert p.flush(20) == 0
    for kind, _, _, schema_type, expected in cases:
        topic = topics[kind]
        status, page, _ = call(b, "GET", f"/api/v1/topics/{topic}/partitions/0/messages")
        assert status == 200, page
        rec = page["records"][0]
        assert rec["key"]["text"] == "plain-key" and rec["key"]["schema"] is None
        decoded = rec["value"]["schema"]
        assert decoded is not None, rec["value"]
        assert decoded["schema_type"] == schema_type and decoded["subject"] == f"{topic}-value"
        assert decoded["value"] == expected, decoded
    status, subjects, _ = call(b, "GET", "/api/v1/schemas?search=reg-avro")
    assert status == 200 and [s["subject"] for s in subjects["subjects"]] == [f"{topics['avro']}-value"]
    assert subjects["subjects"][0]["schema_type"] == "AVRO"
    assert call(b, "GET", "/api/v1/schemas/no-such-subject")[0] == 404

    ui = Page(browser, b, artifacts, "ui")
    ui.open("#/messages?" + urllib.parse.urlencode({"topic": topics["avro"], "partition": "0",
                                                      "format": "decoded"}))
    ui.wait_text("msg-row-0", lambda t: '"name": "ann"' in t and "AVRO" in t)
    ui.shot("messages-decoded")
    ui.go("#/schemas")
    subject = f"{topics['avro']}-value"
    ui.wait_el(f"schema-link-{subject}").click()
    ui.wait_text("schema-version-1", lambda t: "com.example" in t)
    ui.shot("schemas")


def test_topic_configs_and_delete_through_the_ui(ui_broker, browser, artifacts):
    b = ui_broker
    ui = Page(browser, b, artifacts, "ui")
    topic = unique_topic("cfg")
    status, body, _ = call(b, "POST", "/api/v1/topics", {"name": topic, "partitions": 1})
    assert status == 201, body
    ui.open("#/topics/" + topic)
    ui.wait_el("config-edit-retention.ms")
    assert ui.text("config-source-retention.ms") == "default"
    ui.el("config-edit-retention.ms").click()
    inp = ui.el("config-input-retention.ms")
    inp.clear()
    inp.send_keys("3600000")
    ui.el("config-save-retention.ms").click()
    ui.wait_text("config-source-retention.ms", lambda t: t == "topic")
    assert ui.text("config-value-retention.ms") == "3600000"
    _, cfg, _ = call(b, "GET", f"/api/v1/topics/{topic}/configs")
    assert {c["name"]: c for c in cfg["configs"]}["retention.ms"]["value"] == "3600000"
    ui.shot("topic-configs")
    # Delete, with a confirmation first (Cancel keeps the topic).
    ui.go("#/topics?search=" + topic)
    ui.wait_el(f"topic-delete-{topic}").click()
    wait_until("confirmation", lambda: ui.by_id("confirm-no").is_displayed())
    ui.by_id("confirm-no").click()
    assert call(b, "GET", f"/api/v1/topics/{topic}")[0] == 200
    ui.el(f"topic-delete-{topic}").click()
    wait_until("confirmation", lambda: ui.by_id("confirm-yes").is_displayed())
    ui.by_id("confirm-yes").click()
    wait_until("topic deleted", lambda: call(b, "GET", f"/api/v1/topics/{topic}")[0] == 404)


def test_api_validates_and_names_problems(ui_broker):
    b = ui_broker
    topic = unique_topic("api")
    assert call(b, "POST", "/api/v1/topics", {"name": topic, "partitions": 3})[0] == 201
    status, body, _ = call(b, "POST", "/api/v1/topics", {"name": topic})
    assert status == 409 and "error" in body, body
    for path, needle in [
        ("/api/v1/topics?limit=0", "limit"),
        ("/api/v1/topics?limit=100000", "limit"),
        ("/api/v1/topics?bogus=1", "bogus"),
        ("/api/v1/topics?offset=1&offset=2", "more than once"),
        (f"/api/v1/topics/{topic}/partitions/0/messages?limit=101", "limit"),
        (f"/api/v1/topics/{topic}/partitions/x/messages", "partition"),
        (f"/api/v1/topics/{topic}/partitions/0/messages?offset=1&timestamp=2", "not both"),
    ]:
        status, body, _ = call(b, "GET", path)
        assert status == 400 and needle in body.get("error", ""), (path, status, body)
    status, body, _ = call(b, "GET", "/api/v1/topics/no-such-topic")
    assert status == 404 and "no-such-topic" in body["error"]
    status, body, _ = call(b, "GET", f"/api/v1/topics/{topic}/partitions/7/messages")
    assert status == 404, body
    status, body, _ = call(b, "POST", "/api/v1/topics", {"name": "x", "partitions": 0})
    assert status == 400 and "partitions" in body["error"], body
    status, body, _ = call(b, "PATCH", f"/api/v1/topics/{topic}/configs", {"set": {"no.such": "1"}})
    assert status == 400, body
    status, body, _ = call(b, "POST", "/api/v1/groups/g/reset-offsets",
                           {"topic": topic, "to": "sideways", "dry_run": True})
    assert status == 400 and "earliest" in body["error"], body
    # Paging: 3 topics of ours, one page of 2 and one of 1.
    prefix = topic.rsplit("-", 1)[0]
    for i in range(2):
        assert call(b, "POST", "/api/v1/topics", {"name": f"{prefix}-extra{i}"})[0] == 201
    _, p1, _ = call(b, "GET", f"/api/v1/topics?search={prefix}&limit=2")
    _, p2, _ = call(b, "GET", f"/api/v1/topics?search={prefix}&limit=2&offset=2")
    assert p1["total"] == 3 and len(p1["topics"]) == 2 and len(p2["topics"]) == 1
    # The OpenAPI document names every endpoint; the UI has a strict CSP.
    status, _, headers = call(b, "GET", "/api/v1/openapi.yaml")
    assert status == 200 and "yaml" in headers.get("content-type", "")
    text = urllib.request.urlopen(b.http_base + "/api/v1/openapi.yaml", timeout=10).read().decode()
    for path in ("/overview:", "/topics:", "/topics/{topic}:", "/topics/{topic}/configs:",
                 "/topics/{topic}/partitions/{partition}/messages:", "/groups:", "/groups/{group}:",
                 "/groups/{group}/reset-offsets:", "/schemas:", "/schemas/{subject}:"):
        assert f"\n  {path}" in text, path
    for asset, ctype in [("/ui", "text/html"), ("/ui/app.js", "javascript"), ("/ui/style.css", "text/css")]:
        with urllib.request.urlopen(b.http_base + asset, timeout=10) as r:
            assert ctype in r.headers["Content-Type"], asset
            assert "default-src 'none'" in r.headers["Content-Security-Policy"]
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]


# --- security and read-only mode --------------------------------------------------------------

def test_login_with_security_on(tmp_path_factory, browser, artifacts):
    sasl_port = free_port()
    b = Broker(tmp_path_factory.mktemp("ui-sec"), "ui-sec", env={
        "STRATA_ADMIN_USER": ADMIN, "STRATA_ADMIN_PASSWORD": ADMIN_PW})
    b.extra_args = ["--set", f"listeners=PLAINTEXT://{b.host}:{b.port},"
                             f"SASL_PLAINTEXT://{b.host}:{sasl_port}",
                    "--set", "sasl.enabled.mechanisms=SCRAM-SHA-512"]
    b.start()
    try:
        status, body, headers = call(b, "GET", "/api/v1/overview")
        assert status == 401 and "credentials" in body["error"], body
        assert call(b, "GET", "/api/v1/topics", auth=(ADMIN, ADMIN_PW + "x"))[0] == 401
        status, body, _ = call(b, "GET", "/api/v1/overview", auth=(ADMIN, ADMIN_PW))
        assert status == 200 and body["health"] in ("healthy", "degraded"), body
        # The assets need no credentials.
        assert urllib.request.urlopen(b.http_base + "/ui", timeout=10).status == 200

        # A new origin (port) for the browser: no credentials stored yet.
        ui = Page(browser, b, artifacts, "security")
        ui.open("#/")
        wait_until("login form", lambda: ui.by_id("login").is_displayed())
        ui.shot("login")
        ui.type("login-user", ADMIN)
        ui.type("login-password", ADMIN_PW + "wrong")
        ui.by_id("login-submit").click()
        wait_until("login refused", lambda: "Log in again" in ui.by_id("login-error").text)
        ui.type("login-user", ADMIN)
        ui.type("login-password", ADMIN_PW)
        ui.by_id("login-submit").click()
        ui.wait_text("ov-controller", lambda t: t == "1")
        assert ui.by_id("whoami").text == ADMIN
        ui.shot("logged-in")
        ui.go("#/topics")
        ui.wait_el("topic-table")
        # Log out: back to the form.
        ui.by_id("logout").click()
        wait_until("login form again", lambda: ui.by_id("login").is_displayed())
    finally:
        code = b.stop()
        assert code == 0, b.log_tail()


def test_read_only_mode_refuses_changes(tmp_path_factory, browser, artifacts):
    b = Broker(tmp_path_factory.mktemp("ui-ro"), "ui-ro", ["--set", "http.ui.read.only=true"])
    b.start()
    try:
        topic = unique_topic("ro")
        for method, path, body in [
            ("POST", "/api/v1/topics", {"name": topic}),
            ("DELETE", f"/api/v1/topics/{topic}", None),
            ("PATCH", f"/api/v1/topics/{topic}/configs", {"set": {"retention.ms": "1"}}),
            ("POST", "/api/v1/groups/g/reset-offsets", {"topic": topic, "to": "earliest"}),
        ]:
            status, answer, _ = call(b, method, path, body)
            assert status == 403 and "read-only" in answer["error"], (method, path, answer)
        status, body, _ = call(b, "GET", "/api/v1/overview")
        assert status == 200 and body["read_only"] is True
        assert call(b, "GET", "/api/v1/topics")[0] == 200
        ui = Page(browser, b, artifacts, "read-only")
        ui.open("#/topics")
        ui.wait_el("topic-table")
        assert not browser.find_elements("id", "topic-create"), "no create form in read-only mode"
        ui.shot("topics")
    finally:
        code = b.stop()
        assert code == 0, b.log_tail()


def test_ten_thousand_partitions_are_paged_not_rendered(ui_broker, browser, artifacts):
    """A topic with 10,000 partitions: the page renders one page of rows, the pager walks
    them, and the topic list's server-side search finds it among others."""
    from selenium.webdriver.common.by import By
    b = ui_broker
    ui = Page(browser, b, artifacts, "ui")
    topic = unique_topic("wide")
    status, body, _ = call(b, "POST", "/api/v1/topics", {"name": topic, "partitions": 10_000})
    assert status == 201, body
    ui.open("#/topics/" + topic)
    ui.wait_text("partition-page-info", lambda t: t.endswith("of 10000"))
    rows = browser.find_elements(By.CSS_SELECTOR, '[data-testid^="partition-row-"]')
    assert 0 < len(rows) <= 100, len(rows)
    ui.by_id("partition-next").click()
    ui.wait_el("partition-row-100")
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="partition-row-0"]')
    ui.shot("wide-topic")
    ui.open("#/topics?search=" + topic[-8:])
    ui.wait_el(f"topic-delete-{topic}")
    rows = browser.find_elements(By.CSS_SELECTOR, '[data-testid^="topic-delete-"]')
    assert len(rows) == 1, [r.get_attribute("data-testid") for r in rows]


# --- users and ACLs ---------------------------------------------------------------------------

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
TOPIC_AUTHORIZATION_FAILED = 29


def acl_key(resource_type, pattern, name, principal, host, op, permission) -> str:
    """The key acls.js builds its row and button test ids from."""
    return ":".join([resource_type, pattern, name, principal, host, op, permission])


def test_users_and_acls_api_without_an_authorizer(ui_broker):
    """No security on this broker: users can be managed (as AlterUserScramCredentials can),
    ACLs answer as Kafka's SECURITY_DISABLED, and bad requests are named."""
    b = ui_broker
    user = "u-" + uuid.uuid4().hex[:8]
    status, body, _ = call(b, "PUT", f"/api/v1/users/{user}",
                           {"mechanism": "SCRAM-SHA-256", "password": "pw-1", "iterations": 4096})
    assert status == 201 and body["created"] is True, body
    status, body, _ = call(b, "PUT", f"/api/v1/users/{user}",
                           {"mechanism": "scram-sha-256", "password": "pw-2", "iterations": 8192})
    assert status == 200 and body["created"] is False, body
    raw = urllib.request.urlopen(b.http_base + "/api/v1/users", timeout=10).read().decode()
    assert user in raw and "salt" not in raw and "key" not in raw, raw
    status, body, _ = call(b, "GET", f"/api/v1/users/{user}")
    assert status == 200 and body["credentials"] == [
        {"mechanism": "SCRAM-SHA-256", "iterations": 8192}], body
    for payload, needle in [
        ({"mechanism": "SCRAM-SHA-512", "password": "pw", "iterations": 4095}, "between 4096 and 16384"),
        ({"mechanism": "SCRAM-SHA-512", "password": "pw", "iterations": 16385}, "between 4096 and 16384"),
        ({"mechanism": "SCRAM-SHA-512", "password": ""}, "password must not be empty"),
        ({"mechanism": "MD5", "password": "pw"}, "unknown mechanism"),
        ({"mechanism": "SCRAM-SHA-512", "password": "pw", "salt": "x"}, "unknown field"),
    ]:
        status, body, _ = call(b, "PUT", f"/api/v1/users/{user}", payload)
        assert status == 400 and needle in body["error"], (payload, body)
    status, body, _ = call(b, "DELETE", f"/api/v1/users/{user}?mechanism=SCRAM-SHA-512")
    assert status == 404 and "no SCRAM-SHA-512 credential" in body["error"], body
    status, body, _ = call(b, "DELETE", f"/api/v1/users/{user}")
    assert status == 200 and body["deleted"] == ["SCRAM-SHA-256"], body
    assert call(b, "DELETE", f"/api/v1/users/{user}")[0] == 404
    assert call(b, "GET", f"/api/v1/users/{user}")[0] == 404

    binding = {"resource_type": "topic", "resource_name": "t", "principal": "User:bob",
               "operation": "read"}
    for method, path, payload in [("GET", "/api/v1/acls", None), ("POST", "/api/v1/acls", binding),
                                  ("DELETE", "/api/v1/acls", binding)]:
        status, body, _ = call(b, method, path, payload)
        assert status == 409 and "no authorizer is configured" in body["error"], (method, body)
    for payload, needle in [
        ({**binding, "resource_type": "queue"}, "unknown resource_type 'queue'"),
        ({**binding, "operation": "fly"}, "unknown operation 'fly'"),
        ({**binding, "resource_name": ""}, "'resource_name' is required"),
        ({**binding, "principal": "bob"}, "no colon"),
    ]:
        status, body, _ = call(b, "POST", "/api/v1/acls", payload)
        assert status == 400 and needle in body["error"], (payload, body)
    status, body, _ = call(b, "DELETE", "/api/v1/acls")
    assert status == 400 and "give a filter" in body["error"], body
    status, body, _ = call(b, "GET", "/api/v1/acls?resource_type=nope")
    assert status == 400 and "unknown resource_type" in body["error"], body


def test_users_and_acls_through_the_ui_with_real_clients(tmp_path_factory, browser, artifacts):
    """Security on (SCRAM admin, the built-in authorizer): a user and an ACL made in the UI
    let a real SCRAM client read one topic and not another; deleting the ACL in the UI
    refuses it; deleting the user makes its login fail."""
    import socket

    from confluent_kafka import KafkaError, KafkaException, Producer
    from confluent_kafka.admin import AdminClient

    sasl_port = free_port()
    b = Broker(tmp_path_factory.mktemp("ui-acl"), "ui-acl", env={
        "STRATA_ADMIN_USER": ADMIN, "STRATA_ADMIN_PASSWORD": ADMIN_PW})
    b.extra_args = ["--set", f"listeners=PLAINTEXT://{b.host}:{b.port},"
                             f"SASL_PLAINTEXT://{b.host}:{sasl_port}",
                    "--set", "sasl.enabled.mechanisms=SCRAM-SHA-512",
                    "--set", f"authorizer.class.name={AUTHORIZER}"]
    b.start()

    def sasl(user: str, password: str) -> dict:
        return {"bootstrap.servers": f"{b.host}:{sasl_port}", "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": user,
                "sasl.password": password, **COMMON}

    def read(conf: dict, topic: str, n: int, timeout: float, subscribe: bool = False):
        """Poll `topic` from offset 0: (values, error codes). assign() needs only READ on
        the topic; a refusal of a topic it may not describe is reported for subscribe()
        (librdkafka says nothing of an assign()ed one), so the refusals use that."""
        c = Consumer({**conf, "group.id": "ui-acl-" + uuid.uuid4().hex[:6],
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "topic.metadata.refresh.interval.ms": 500})
        values, codes = [], set()
        try:
            if subscribe:
                c.subscribe([topic])
            else:
                c.assign([TopicPartition(topic, 0, 0)])
            deadline = time.monotonic() + timeout
            while len(values) < n and time.monotonic() < deadline:
                m = c.poll(0.2)
                if m is None:
                    continue
                if m.error() is not None:
                    codes.add(m.error().code())
                    if m.error().code() == TOPIC_AUTHORIZATION_FAILED:
                        break
                else:
                    values.append(m.value())
        finally:
            c.close()
        return values, codes

    try:
        wait_until("SASL port", lambda: socket.create_connection((b.host, sasl_port), timeout=1).close()
                   or True, 15)
        admin_auth = (ADMIN, ADMIN_PW)
        # The listing needs credentials; the admin (a super user) sees no ACLs yet.
        assert call(b, "GET", "/api/v1/acls")[0] == 401
        status, body, _ = call(b, "GET", "/api/v1/acls", auth=admin_auth)
        assert status == 200 and body["total"] == 0, body
        readable, hidden = unique_topic("ui-acl-read"), unique_topic("ui-acl-hidden")
        for t in (readable, hidden):
            status, body, _ = call(b, "POST", "/api/v1/topics", {"name": t}, auth=admin_auth)
            assert status == 201, body
        p = Producer({**sasl(ADMIN, ADMIN_PW), "linger.ms": 5, "message.timeout.ms": 20_000})
        for t in (readable, hidden):
            for i in range(3):
                p.produce(t, value=f"{t[-6:]}-{i}".encode(), partition=0)
        assert p.flush(20) == 0

        user = "reader-" + uuid.uuid4().hex[:6]
        password = "pw-" + uuid.uuid4().hex[:12]
        ui = Page(browser, b, artifacts, "security")
        ui.open("#/users")
        wait_until("login form", lambda: ui.by_id("login").is_displayed())
        ui.type("login-user", ADMIN)
        ui.type("login-password", ADMIN_PW)
        ui.by_id("login-submit").click()

        # Users: the admin is listed; create the reader through the form.
        ui.go("#/users")
        ui.wait_el(f"user-row-{ADMIN}")
        ui.type("user-create-name", user)
        ui.type("user-create-password", password)
        ui.type("user-create-iterations", "4096")
        ui.el("user-create-submit").click()
        ui.wait_text(f"user-mechanisms-{user}", lambda t: t == "SCRAM-SHA-512 (4096 iterations)")
        assert ui.banner() == ""
        ui.go("#/users")
        ui.wait_el(f"user-row-{user}")
        ui.shot("users")

        # Without an ACL the reader logs in but may read nothing.
        values, codes = read(sasl(user, password), readable, 1, 15, subscribe=True)
        assert values == [] and TOPIC_AUTHORIZATION_FAILED in codes, codes

        # ACLs: grant READ on the one topic (a bare name means User:name).
        ui.go("#/acls")
        ui.wait_el("acl-table")
        ui.type("acl-create-name", readable)
        ui.type("acl-create-principal", user)
        ui.el("acl-create-submit").click()
        key = acl_key("topic", "literal", readable, f"User:{user}", "*", "read", "allow")
        ui.wait_el(f"acl-row-{key}")
        assert ui.banner() == ""
        ui.shot("acls")
        _, listed, _ = call(b, "GET", f"/api/v1/acls?principal=User:{user}", auth=admin_auth)
        assert listed["acls"] == [{"resource_type": "topic", "resource_name": readable,
                                   "pattern_type": "literal", "principal": f"User:{user}",
                                   "host": "*", "operation": "read", "permission": "allow"}], listed

        # The reader reads that topic, and not the other.
        values, codes = read(sasl(user, password), readable, 3, 20)
        assert values == [f"{readable[-6:]}-{i}".encode() for i in range(3)], codes
        values, codes = read(sasl(user, password), hidden, 1, 15, subscribe=True)
        assert values == [] and TOPIC_AUTHORIZATION_FAILED in codes, codes

        # Delete the ACL in the UI (Cancel first keeps it): the reader is refused again.
        ui.el(f"acl-delete-{key}").click()
        wait_until("confirmation", lambda: ui.by_id("confirm-no").is_displayed())
        ui.by_id("confirm-no").click()
        assert call(b, "GET", "/api/v1/acls", auth=admin_auth)[1]["total"] == 1
        ui.el(f"acl-delete-{key}").click()
        wait_until("confirmation", lambda: ui.by_id("confirm-yes").is_displayed())
        ui.by_id("confirm-yes").click()
        ui.wait_el("no-acls")
        assert call(b, "GET", "/api/v1/acls", auth=admin_auth)[1]["total"] == 0
        values, codes = read(sasl(user, password), readable, 1, 15, subscribe=True)
        assert values == [] and TOPIC_AUTHORIZATION_FAILED in codes, codes

        # Delete the user in the UI: its login fails.
        ui.go("#/users")
        ui.wait_el(f"user-delete-{user}").click()
        wait_until("confirmation", lambda: ui.by_id("confirm-yes").is_displayed())
        ui.by_id("confirm-yes").click()
        wait_until("user gone", lambda: call(b, "GET", f"/api/v1/users/{user}",
                                             auth=admin_auth)[0] == 404)
        wait_until("user row gone", lambda: not browser.find_elements(
            "css selector", f'[data-testid="user-row-{user}"]'))
        ui.wait_el(f"user-row-{ADMIN}")
        errors: list = []
        a = AdminClient({**sasl(user, password), "error_cb": errors.append})
        with pytest.raises(KafkaException):
            a.list_topics(timeout=10)
        wait_until("authentication failure",
                   lambda: (a.poll(0.2), any(e.code() == KafkaError._AUTHENTICATION
                                             for e in errors))[1], 15)
        # The admin is still in.
        assert call(b, "GET", "/api/v1/users", auth=admin_auth)[0] == 200
    finally:
        code = b.stop()
        assert code == 0, b.log_tail()


def test_users_and_acls_refused_in_read_only_mode(tmp_path_factory):
    b = Broker(tmp_path_factory.mktemp("ui-ro-sec"), "ui-ro-sec",
               ["--set", "http.ui.read.only=true"])
    b.start()
    try:
        binding = {"resource_type": "topic", "resource_name": "t", "principal": "User:bob",
                   "operation": "read"}
        for method, path, body in [
            ("PUT", "/api/v1/users/bob", {"mechanism": "SCRAM-SHA-512", "password": "pw"}),
            ("DELETE", "/api/v1/users/bob", None),
            ("POST", "/api/v1/acls", binding),
            ("DELETE", "/api/v1/acls", binding),
        ]:
            status, answer, _ = call(b, method, path, body)
            assert status == 403 and "read-only" in answer["error"], (method, path, answer)
        assert call(b, "GET", "/api/v1/users")[0] == 200
    finally:
        code = b.stop()
        assert code == 0, b.log_tail()
