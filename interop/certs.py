"""Test PKI for the security interop tests, made with the `openssl` command at test time.

Nothing here is checked in: every run makes a fresh CA, a server certificate for
localhost / 127.0.0.1 and client certificates, in a temporary directory. Keys are ECDSA P-256
(fast to generate) in unencrypted PKCS#8 PEM, except where a caller asks for RSA in the
traditional PKCS#1 form.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
from dataclasses import dataclass

OPENSSL = shutil.which("openssl")

DAYS = "3"


def openssl(*args: str, cwd: pathlib.Path) -> str:
    assert OPENSSL, "the openssl command is not installed"
    res = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"openssl {' '.join(args)} exited {res.returncode}:\n{res.stderr}"
    return res.stdout


def subj(dn: dict[str, str] | list[tuple[str, str]]) -> str:
    """An openssl -subj string, most significant RDN first (/O=Acme/OU=eng/CN=alice)."""
    items = list(dn.items()) if isinstance(dn, dict) else list(dn)
    for _, v in items:
        assert "/" not in v and "," not in v and "=" not in v, v
    return "".join(f"/{k}={v}" for k, v in items)


@dataclass
class Cert:
    """A certificate with its key: separate PEM files and one combined keystore PEM."""

    name: str
    cert: pathlib.Path  # the leaf certificate (PEM)
    key: pathlib.Path  # its private key (PEM)
    chain: pathlib.Path  # leaf + issuing CA (PEM)
    keystore: pathlib.Path  # private key followed by the chain, the broker's keystore format

    def subject_rfc2253(self) -> str:
        out = openssl("x509", "-in", str(self.cert), "-noout", "-subject", "-nameopt", "RFC2253",
                      cwd=self.cert.parent)
        return out.strip().removeprefix("subject=").strip()


class CertAuthority:
    """A self-signed CA in `directory` that issues server and client certificates."""

    def __init__(self, directory: pathlib.Path, name: str = "ca",
                 cn: str = "Strata Interop Test CA"):
        self.dir = pathlib.Path(directory).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.key = self.dir / f"{name}.key"
        self.cert = self.dir / f"{name}.crt"
        self._serial = 0
        openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(self.key),
                "-out", str(self.cert), "-days", DAYS, "-sha256",
                "-subj", subj({"O": "Strata Interop", "CN": cn}),
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-addext", "subjectKeyIdentifier=hash",
                cwd=self.dir)

    def _new_key(self, path: pathlib.Path, rsa_pkcs1: bool) -> None:
        if rsa_pkcs1:
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(path) + ".p8", cwd=self.dir)
            # `openssl rsa -traditional` writes "BEGIN RSA PRIVATE KEY" (PKCS#1).
            openssl("rsa", "-in", str(path) + ".p8", "-traditional", "-out", str(path),
                    cwd=self.dir)
            pathlib.Path(str(path) + ".p8").unlink()
        else:
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", str(path), cwd=self.dir)

    def issue(self, name: str, dn: dict[str, str] | list[tuple[str, str]], *,
              server: bool, sans: list[str] | None = None, rsa_pkcs1: bool = False,
              usage: str | None = None) -> Cert:
        """Issue a certificate named `name` (files name.crt, name.key, name-chain.pem,
        name-keystore.pem). `server` picks the serverAuth or clientAuth extended key usage;
        `usage` overrides it (e.g. "serverAuth,clientAuth" for a cluster node)."""
        key = self.dir / f"{name}.key"
        csr = self.dir / f"{name}.csr"
        cert = self.dir / f"{name}.crt"
        ext = self.dir / f"{name}.ext"
        self._new_key(key, rsa_pkcs1)
        openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", subj(dn),
                cwd=self.dir)
        lines = ["basicConstraints=critical,CA:FALSE",
                 "keyUsage=critical,digitalSignature,keyEncipherment",
                 f"extendedKeyUsage={usage or ('serverAuth' if server else 'clientAuth')}",
                 "subjectKeyIdentifier=hash",
                 "authorityKeyIdentifier=keyid"]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        self._serial += 1
        openssl("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
                "-set_serial", str(1000 + self._serial), "-days", DAYS, "-sha256",
                "-extfile", str(ext), "-out", str(cert), cwd=self.dir)
        chain = self.dir / f"{name}-chain.pem"
        chain.write_text(cert.read_text() + self.cert.read_text())
        keystore = self.dir / f"{name}-keystore.pem"
        keystore.write_text(key.read_text() + chain.read_text())
        csr.unlink()
        ext.unlink()
        return Cert(name, cert, key, chain, keystore)

    def server(self, name: str = "server", cn: str = "localhost", **kw) -> Cert:
        return self.issue(name, {"O": "Acme", "OU": "brokers", "CN": cn}, server=True,
                          sans=["DNS:localhost", "IP:127.0.0.1"], **kw)

    def node(self, name: str, cn: str) -> Cert:
        """A cluster node's certificate: it serves (listeners, controller port) and connects to
        its peers with the same certificate."""
        return self.issue(name, {"O": "Acme", "OU": "brokers", "CN": cn}, server=True,
                          sans=["DNS:localhost", "IP:127.0.0.1"], usage="serverAuth,clientAuth")

    def client(self, name: str, cn: str, ou: str = "eng", o: str = "Acme", **kw) -> Cert:
        return self.issue(name, {"O": o, "OU": ou, "CN": cn}, server=False, **kw)


@dataclass
class Pki:
    """Everything the security tests need: a CA, a server certificate, client certificates,
    and a second, unrelated CA with its own client certificate (which the broker must refuse)."""

    ca: CertAuthority
    server: Cert
    server_rsa: Cert  # same names, RSA key in PKCS#1 form
    alice: Cert
    bob: Cert
    rogue_ca: CertAuthority
    mallory: Cert  # CN=alice,OU=eng,O=Acme too, but issued by the rogue CA


def make_pki(directory: pathlib.Path) -> Pki:
    directory = pathlib.Path(directory)
    ca = CertAuthority(directory / "ca")
    server = ca.server()
    server_rsa = ca.server("server-rsa", rsa_pkcs1=True)
    alice = ca.client("alice", "alice")
    bob = ca.client("bob", "bob", ou="ops", rsa_pkcs1=True)
    rogue = CertAuthority(directory / "rogue", name="rogue-ca", cn="Strata Interop Test CA")
    mallory = rogue.client("mallory", "alice")
    return Pki(ca, server, server_rsa, alice, bob, rogue, mallory)
