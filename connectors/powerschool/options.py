"""Options of a ``type: powerschool`` connector, as validated from YAML."""

from __future__ import annotations

import ipaddress
import urllib.parse

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.secrets import SecretRef
from connectors.powerschool.auth import TOKEN_PATH
from connectors.powerschool.streams import BY_NAME


class Options(BaseModel):
    """``options:`` of a ``type: powerschool`` connector in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    client_id: SecretRef
    client_secret: SecretRef
    page_size: int | None = Field(default=None, ge=1)  # default: the cap /ws/v1/metadata announces
    timeout: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    school_ids: list[str] | None = None  # read only these schools' records (not contacts or notices)
    token_path: str = TOKEN_PATH
    # Read only these streams, e.g. when a district has no u_progress_report table.
    streams: list[str] | None = None

    @field_validator("streams")
    @classmethod
    def _known_streams(cls, value: list[str] | None) -> list[str] | None:
        unknown = [name for name in value or [] if name not in BY_NAME]
        if unknown:
            raise ValueError(f"unknown stream(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = urllib.parse.urlsplit(value)
            scheme, host = url.scheme, url.hostname
        except ValueError:  # e.g. an unclosed IPv6 bracket
            scheme, host = "", None
        if scheme not in ("https", "http") or not host:
            raise ValueError("expected an https:// URL of the SIS")
        # Plain http would carry the client secret, tokens and student data in clear text;
        # it is allowed only to this machine (the bundled simulator, a local TLS proxy).
        if scheme == "http" and not _loopback(host):
            raise ValueError("plain http:// is allowed only to a loopback address; use https://")
        return value.rstrip("/")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
