"""The `strata` CLI as a secure client: TLS, mTLS, SASL PLAIN / SCRAM, users and ACLs.

Two brokers for the module:

  sec  PLAINTEXT (setup), SECURE (SASL_SSL), SASL_PLAINTEXT, MTLS (SSL, client certificates
       required); no authorizer
  acl  PLAINTEXT and SASL_PLAINTEXT with the StandardAuthorizer (only the admin is a super user)

Settings reach the CLI as kcat takes them (-X key=value), from a properties file (-F) and from
STRATA_CLIENT_CONFIG. Certificates are generated at test time by certs.py. The binary is
$STRATA_BIN or target/release/strata, as for the broker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from broker import strata_bin
from certs import Pki, make_pki
from clients import unique_topic
from test_security import SecureBroker

KCAT = shutil.which("kcat") or shutil.which("kafkacat")

ADMIN = "admin"
ADMIN_PW = f"admin-{uuid.uuid4().hex[:12]}"
ADMIN_ENV = {"STRATA_ADMIN_USER": ADMIN, "STRATA_ADMIN_PASSWORD": ADMIN_PW}
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def stop(b) -> None:
    b.assert_alive()
    code = b.stop()
    assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def sec(tmp_path_factory, pki):
    listeners = {"PLAINTEXT": "PLAINTEXT", "SECURE": "SASL_SSL", "SASL_PLAINTEXT": None,
                 "MTLS": "SSL"}
    settings = {
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.server.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca.cert),
        "ssl.client.auth": "required",
    }
    b = SecureBroker(tmp_path_factory.mktemp("clisec"), "clisec", listeners, settings,
                     env=ADMIN_ENV)
    b.start()
    yield b
    stop(b)


@pytest.fixture(scope="module")
def acl(tmp_path_factory):
    listeners = {"PLAINTEXT": "PLAINTEXT", "SASL_PLAINTEXT": None}
    settings = {"sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
                "authorizer.class.name": AUTHORIZER}
    b = SecureBroker(tmp_path_factory.mktemp("cliacl"), "cliacl", listeners, settings,
                     env=ADMIN_ENV)
    b.start()
    yield b
    stop(b)


# --- running the CLI ----------------------------------------------------------------------------

def strata(*args: str, stdin: str | None = None, env: dict | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("STRATA_CLIENT_CONFIG", "STRATA_BOOTSTRAP", "STRATA_USER_PASSWORD")}
    full_env.update(env or {})
    return subprocess.run([str(strata_bin()), *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def ok(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 0, f"exit {res.returncode}\nstdout:{res.stdout}\nstderr:{res.stderr}"
    return res.stdout


def x_args(settings: dict[str, str]) -> list[str]:
    out = []
    for k, v in settings.items():
        out += ["-X", f"{k}={v}"]
    return out


def scram(user: str = ADMIN, password: str = ADMIN_PW, mech: str = "SCRAM-SHA-512",
          tls: Pki | None = None) -> dict[str, str]:
    s = {"security.protocol": "SASL_SSL" if tls else "SASL_PLAINTEXT",
         "sasl.mechanism": mech, "sasl.username": user, "sasl.password": password}
    if tls:
        s["ssl.ca.location"] = str(tls.ca.cert)
    return s


def mtls(pki: Pki) -> dict[str, str]:
    return {"security.protocol": "SSL", "ssl.ca.location": str(pki.ca.cert),
            "ssl.certificate.location": str(pki.alice.cert),
            "ssl.key.location": str(pki.alice.key)}


def round_trip(addr: str, client: list[str], env: dict | None = None,
               group: bool = False) -> None:
    """topic create, produce three lines, consume them back as JSON, all through `client`;
    with `group`, also as a group member (the coordinator connection is secured too)."""
    topic = unique_topic("cli")
    ok(strata("-b", addr, *client, "topic", "create", topic, "--partitions", "1",
              "--replication-factor", "1", env=env))
    ok(strata("-b", addr, *client, "produce", topic, stdin="one\ntwo\nthree\n", env=env))
    out = ok(strata("-b", addr, *client, "consume", topic, "--from-beginning", "--count", "3",
                    "--timeout-ms", "20000", "--format", "json", env=env))
    values = [json.loads(line)["value"] for line in out.splitlines()]
    assert values == ["one", "two", "three"]
    if group:
        g = f"g-{uuid.uuid4().hex[:8]}"
        # -X also carries consumer settings for `consume`.
        out = ok(strata("-b", addr, *client, "consume", topic, "--group", g, "--from-beginning",
                        "--count", "3", "--timeout-ms", "30000",
                        "-X", "session.timeout.ms=10000", env=env))
        assert out.split() == ["one", "two", "three"]
        described = json.loads(ok(strata("-b", addr, *client, "group", "describe", g,
                                         "--format", "json", env=env)))
        assert described, described


# --- transport and authentication ---------------------------------------------------------------

def test_produce_consume_over_sasl_ssl_scram_sha512(sec, pki):
    round_trip(sec.addr("SECURE"), x_args(scram(tls=pki)), group=True)


def test_produce_consume_over_mtls_from_a_properties_file(sec, pki, tmp_path):
    props = tmp_path / "mtls.properties"
    props.write_text("# mutual TLS as alice\n\n" +
                     "".join(f"{k} = {v}\n" for k, v in mtls(pki).items()))
    round_trip(sec.addr("MTLS"), ["-F", str(props)], group=True)


def test_produce_consume_over_sasl_plaintext_plain_from_env_file(sec, tmp_path):
    props = tmp_path / "plain.properties"
    props.write_text("".join(f"{k}={v}\n" for k, v in
                             scram(mech="PLAIN").items()))
    round_trip(sec.addr("SASL_PLAINTEXT"), [], env={"STRATA_CLIENT_CONFIG": str(props)})


def test_x_overrides_the_file_and_scram_sha256(sec, pki, tmp_path):
    props = tmp_path / "c.properties"
    props.write_text("".join(f"{k}={v}\n" for k, v in scram(password="wrong", tls=pki).items()))
    out = ok(strata("-b", sec.addr("SECURE"), "-F", str(props), "cluster", "info",
                    "--format", "json", "-X", f"sasl.password={ADMIN_PW}",
                    "-X", "sasl.mechanism=SCRAM-SHA-256"))
    json.loads(out)


def test_wrong_password_is_a_clear_error_and_fails_fast(sec, pki):
    start = time.monotonic()
    res = strata("-b", sec.addr("SECURE"), *x_args(scram(password="not-it", tls=pki)),
                 "topic", "list")
    assert res.returncode != 0
    assert "authentication failed" in res.stderr, res.stderr
    assert "SASL_AUTHENTICATION_FAILED" in res.stderr, res.stderr
    assert "not-it" not in res.stderr + res.stdout
    assert time.monotonic() - start < 20, "a failed authentication must not be retried"


def test_untrusted_broker_certificate_is_refused(sec, pki):
    res = strata("-b", sec.addr("MTLS"), "-X", "security.protocol=SSL",
                 "-X", f"ssl.ca.location={pki.rogue_ca.cert}",
                 "-X", f"ssl.certificate.location={pki.alice.cert}",
                 "-X", f"ssl.key.location={pki.alice.key}", "topic", "list")
    assert res.returncode != 0
    assert "TLS handshake" in res.stderr, res.stderr


def test_verification_off_works_but_warns(sec, pki):
    settings = {**mtls(pki), "enable.ssl.certificate.verification": "false"}
    del settings["ssl.ca.location"]
    res = strata("-b", sec.addr("MTLS"), *x_args(settings), "topic", "list")
    ok(res)
    assert "NOT" in res.stderr and "verified" in res.stderr, res.stderr


def test_unknown_setting_is_named(sec):
    res = strata("-b", sec.addr("SASL_PLAINTEXT"), "-X", "sasl.usrname=admin", "topic", "list")
    assert res.returncode != 0
    assert "sasl.usrname" in res.stderr and "sasl.username" in res.stderr, res.stderr


# --- users --------------------------------------------------------------------------------------

@pytest.mark.skipif(KCAT is None, reason="kcat is not installed")
def test_user_create_then_kcat_logs_in(sec, pki, tmp_path):
    user = f"u{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex[:10]}"
    pw_file = tmp_path / "pw"
    pw_file.write_text(password + "\n")
    admin = ["-b", sec.addr("SECURE"), *x_args(scram(tls=pki))]
    out = ok(strata(*admin, "user", "create", user, "--password-file", str(pw_file),
                    "--mechanism", "SCRAM-SHA-256", "--iterations", "8192", "--format", "json"))
    assert json.loads(out) == {"user": user, "action": "created", "mechanisms": ["SCRAM-SHA-256"]}
    # Creating it again is refused; set-password works.
    res = strata(*admin, "user", "create", user, "--password", "x", "--mechanism", "SCRAM-SHA-256")
    assert res.returncode != 0 and "set-password" in res.stderr, res.stderr
    ok(strata(*admin, "user", "set-password", user, "--mechanism", "SCRAM-SHA-512",
              env={"STRATA_USER_PASSWORD": password}))
    users = json.loads(ok(strata(*admin, "user", "list", "--format", "json")))["users"]
    mine = [u for u in users if u["user"] == user]
    assert mine == [{"user": user, "credentials": [
        {"mechanism": "SCRAM-SHA-256", "iterations": 8192},
        {"mechanism": "SCRAM-SHA-512", "iterations": 4096}]}], users

    def kcat(mech: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [KCAT, "-b", sec.addr("SECURE"), "-L", "-m", "10", "-X", "security.protocol=SASL_SSL",
             "-X", f"ssl.ca.location={pki.ca.cert}", "-X", f"sasl.mechanisms={mech}",
             "-X", f"sasl.username={user}", "-X", f"sasl.password={password}"],
            capture_output=True, text=True, timeout=30)

    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        res = kcat(mech)
        assert res.returncode == 0, res.stderr
        assert "broker" in res.stdout
    out = ok(strata(*admin, "user", "delete", user, "--format", "json"))
    assert sorted(json.loads(out)["mechanisms"]) == ["SCRAM-SHA-256", "SCRAM-SHA-512"]
    assert kcat("SCRAM-SHA-512").returncode != 0
    res = strata(*admin, "user", "list", user)
    assert res.returncode != 0 and "RESOURCE_NOT_FOUND" in res.stderr, res.stderr


# --- ACLs ---------------------------------------------------------------------------------------

def test_acl_create_then_read_then_delete_then_refused(acl):
    admin = ["-b", acl.addr("SASL_PLAINTEXT"), *x_args(scram())]
    user = f"a{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex[:10]}"
    ok(strata(*admin, "user", "create", user, "--password", password))
    alice = ["-b", acl.addr("SASL_PLAINTEXT"), *x_args(scram(user, password))]
    topic = unique_topic("acl")
    ok(strata(*admin, "topic", "create", topic, "--partitions", "1", "--replication-factor", "1"))
    ok(strata(*admin, "produce", topic, stdin="a\nb\n"))

    out = ok(strata(*admin, "acl", "create", "--allow", "--principal", f"User:{user}",
                    "--operation", "read", "--operation", "describe", "--topic", topic,
                    "--format", "json"))
    created = json.loads(out)["created"]
    assert {(a["operation"], a["permission"], a["name"]) for a in created} == \
        {("READ", "ALLOW", topic), ("DESCRIBE", "ALLOW", topic)}
    listed = json.loads(ok(strata(*admin, "acl", "list", "--principal", f"User:{user}",
                                  "--format", "json")))["acls"]
    assert sorted(listed, key=lambda a: a["operation"]) == \
        sorted(created, key=lambda a: a["operation"])

    out = ok(strata(*alice, "consume", topic, "--from-beginning", "--count", "2",
                    "--timeout-ms", "20000"))
    assert out.split() == ["a", "b"]

    out = ok(strata(*admin, "acl", "delete", "--principal", f"User:{user}", "--topic", topic))
    assert out.startswith("deleted 2 ACL(s)"), out
    assert f"ALLOW READ on TOPIC:LITERAL:{topic} for User:{user}" in out, out
    res = strata(*alice, "consume", topic, "--from-beginning", "--count", "2",
                 "--timeout-ms", "5000")
    assert res.returncode != 0
    assert "TOPIC_AUTHORIZATION_FAILED" in res.stderr, res.stderr
    assert json.loads(ok(strata(*admin, "acl", "list", "--principal", f"User:{user}",
                                "--format", "json"))) == {"acls": []}


def test_acl_refused_to_a_non_super_user_shows_kafka_error(acl):
    admin = ["-b", acl.addr("SASL_PLAINTEXT"), *x_args(scram())]
    user = f"n{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex[:10]}"
    ok(strata(*admin, "user", "create", user, "--password", password))
    nobody = ["-b", acl.addr("SASL_PLAINTEXT"), *x_args(scram(user, password))]
    res = strata(*nobody, "acl", "create", "--allow", "--principal", f"User:{user}",
                 "--operation", "all", "--cluster")
    assert res.returncode != 0
    assert "CLUSTER_AUTHORIZATION_FAILED" in res.stderr, res.stderr
