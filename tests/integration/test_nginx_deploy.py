"""The shipped nginx example (deploy/nginx/portico.conf) in front of a real `portico api`, run
by Debian's nginx (installed by scripts/setup_nginx, called from scripts/test).

The file is used as shipped: only what docs/deploy.md tells the district to replace is
replaced (the host name's certificate paths, the listening ports, the upstream port), and
each replacement must find its text, so the example cannot drift from what is tested.

Proved:
- nginx accepts the file (`nginx -t`) on Debian's version;
- plain HTTP only redirects to HTTPS;
- over HTTPS the portal and the API answer through nginx with exactly one
  Strict-Transport-Security header, and the session cookie is ``__Host-`` and Secure;
- a client's own X-Forwarded-For is replaced, never passed on: a client that changes it on
  every request is still one address to Portico's per-address throttle (and the same
  requests sent straight to Portico, from the trusted proxy's address, would not be);
- /metrics is refused by nginx to anyone outside the district's network;
- a body over the limit is refused before it reaches Portico.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import REPO
from tests.support.clock import wait_until
from tests.support.config import raw_config, write_yaml
from tests.support.fake_source import MODULE, write_state
from tests.support.net import free_port

HOST = "portal.example.org"
SHIPPED = REPO / "deploy" / "nginx" / "portico.conf"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if found is None:
        reason = "nginx is not installed (scripts/setup_nginx installs Debian's package as root)"
        if IN_CI:
            pytest.fail(reason + "; CI must run the deployment test")
        pytest.skip(reason)
    return found


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for HOST and its key, as the district's certificate would be installed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def site_config(upstream: int, http: int, https: int, cert: Path, key: Path) -> str:
    """The shipped file with the district's own values put in, each replacement checked."""
    text = SHIPPED.read_text()
    replacements = [
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"),
        ("    listen [::]:80;\n", ""),
        ("    listen [::]:443 ssl http2;\n", ""),
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        (f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(cert)),
        (f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(key)),
    ]
    for old, new in replacements:
        assert old in text, f"{SHIPPED.name} no longer has {old!r}: update this test and docs/deploy.md"
        text = text.replace(old, new)
    return text


def main_config(folder: Path, site: Path) -> Path:
    """What /etc/nginx/nginx.conf gives the site file, confined to ``folder``."""
    temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    user = "user root;\n" if os.geteuid() == 0 else ""  # CI runs as root: workers stay root in tmp
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""{user}daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {temp["body"]};
  proxy_temp_path {temp["proxy"]};
  fastcgi_temp_path {temp["fastcgi"]};
  uwsgi_temp_path {temp["uwsgi"]};
  scgi_temp_path {temp["scgi"]};
  include {site};
}}
"""
    )
    return conf


class Deployment:
    def __init__(self, https: int, http: int, cert: Path) -> None:
        self.https, self.http = https, http
        context = ssl.create_default_context(cafile=str(cert))
        self.client = httpx.Client(verify=context, timeout=30, follow_redirects=False)

    def get(self, path: str, **kw: object) -> httpx.Response:
        return self.request("GET", path, **kw)

    def request(self, method: str, path: str, **kw: object) -> httpx.Response:
        """Over TLS to nginx on loopback, as a browser asking for HOST would (SNI and Host)."""
        return self.client.request(
            method,
            f"https://127.0.0.1:{self.https}{path}",
            headers={"Host": HOST, **kw.pop("headers", {})},  # type: ignore[dict-item]
            extensions={"sni_hostname": HOST},
            **kw,  # type: ignore[arg-type]
        )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, int]]:
    nginx = nginx_binary()
    tmp = tmp_path_factory.mktemp("nginx")
    state = tmp / "source.json"
    write_state(state, 4)
    raw = raw_config(
        tmp,
        f"sqlite:///{tmp / 'cache.db'}",
        connectors=[{"name": "sis", "type": "fake", "options": {"state_file": str(state)}}],
        # As deploy/nginx/portico.conf's header says: nginx on the same machine.
        api={
            "trusted_proxies": ["127.0.0.1"],
            "throttles": {"reset_per_address": {"count": 3, "per": 3600}},
        },
    )
    config = write_yaml(tmp / "portico.yaml", raw)
    cli = [sys.executable, "-m", MODULE, "--config", str(config)]
    subprocess.run([*cli, "db", "upgrade"], cwd=REPO, check=True, capture_output=True, timeout=120)
    portico_port, http, https = free_port(), free_port(), free_port()
    cert, key = self_signed(tmp)
    site = tmp / "portico.conf"
    site.write_text(site_config(portico_port, http, https, cert, key))
    conf = main_config(tmp, site)
    checked = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, f"nginx -t refused the shipped example:\n{checked.stderr}"
    log = (tmp / "api.log").open("w")
    api = subprocess.Popen(
        [*cli, "api", "--port", str(portico_port)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT
    )
    front = subprocess.Popen([nginx, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    d = Deployment(https, http, cert)
    try:

        def up() -> bool:
            try:
                return d.get("/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 60, "Portico answering through nginx")
        yield d, portico_port
    finally:
        for proc in (front, api):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        d.client.close()
        log.close()


def test_nginx_accepts_the_shipped_example_and_plain_http_only_redirects(
    deployment: tuple[Deployment, int],
) -> None:
    d, _ = deployment
    r = httpx.get(f"http://127.0.0.1:{d.http}/sign-in?next=/", headers={"Host": HOST}, timeout=10)
    assert r.status_code == 301
    assert r.headers["location"] == f"https://{HOST}/sign-in?next=/"


def test_pages_and_api_answer_over_tls_with_one_hsts_header_and_a_host_only_secure_cookie(
    deployment: tuple[Deployment, int],
) -> None:
    d, _ = deployment
    page = d.get("/sign-in")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers.get_list("strict-transport-security") == ["max-age=31536000"]
    cookies = page.headers.get_list("set-cookie")
    assert cookies and all(c.startswith("__Host-") and "Secure" in c and "HttpOnly" in c for c in cookies)
    api = d.get("/v1/me")
    assert api.status_code == 401
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.headers.get_list("strict-transport-security") == ["max-age=31536000"]


def test_a_clients_own_forwarded_for_is_replaced_so_the_address_throttle_holds(
    deployment: tuple[Deployment, int],
) -> None:
    d, portico_port = deployment

    def reset(send: object, spoof: str) -> int:
        body = {"username": f"nobody-{uuid.uuid4().hex}"}  # a new name each time: only the address counts
        r = send("POST", "/v1/auth/password-reset", json=body, headers={"X-Forwarded-For": spoof})  # type: ignore[operator]
        return int(r.status_code)

    # Straight to Portico from 127.0.0.1, a trusted proxy's address: a changing X-Forwarded-For
    # is believed, so these four look like four clients (why nginx must replace the header).
    with httpx.Client(base_url=f"http://127.0.0.1:{portico_port}", timeout=30) as direct:
        statuses = [reset(direct.request, f"198.51.100.{i}") for i in range(1, 5)]
    assert statuses == [202, 202, 202, 202]
    # Through nginx: the same client is one address however it fills the header.
    through = [reset(d.request, f"203.0.113.{i}") for i in range(1, 5)]
    assert through == [202, 202, 202, 429]


def test_metrics_are_refused_outside_the_districts_network_and_large_bodies_before_portico(
    deployment: tuple[Deployment, int],
) -> None:
    d, _ = deployment
    assert d.get("/metrics").status_code == 403  # nginx: allow 10.0.0.0/8; deny all
    big = d.request(
        "POST", "/v1/auth/login", content=b"x" * (65 * 1024), headers={"Content-Type": "application/json"}
    )
    assert big.status_code == 413
    assert "nginx" in big.text  # refused by nginx itself, before a byte reached Portico
