"""Password policy presets (``config/password_presets.yaml``): rules, history and expiry.

:func:`unmet` lists every rule a new password breaks, so a form can show them all at
once. Passwords are NFKC-normalised first (as they are before hashing) and never
truncated; 4096 characters only bounds the hashing work.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from gateway.access.security import normalise_password, verify_password

MAX_LENGTH = 4096
# Names shorter than this are not searched for: "Al" inside a passphrase is not a name.
MIN_NAME_LENGTH = 3


@dataclass(frozen=True)
class Preset:
    name: str
    conforms_to: str
    min_length: int
    min_length_with_mfa: int
    require_upper: bool
    require_lower: bool
    require_digit: bool
    history: int
    forbid_own_names: bool
    blocklist: bool
    expires_after_days: int | None
    remind_at_day: int | None
    remind_daily_from_day: int | None

    def expires_at(self, changed_at: dt.datetime | None) -> dt.datetime | None:
        if self.expires_after_days is None or changed_at is None:
            return None
        return changed_at + dt.timedelta(days=self.expires_after_days)

    def expired(self, changed_at: dt.datetime | None, now: dt.datetime) -> bool:
        end = self.expires_at(changed_at)
        return end is not None and now >= end


@cache
def presets() -> dict[str, Preset]:
    raw = yaml.safe_load(resources.files("config").joinpath("password_presets.yaml").read_text("utf-8"))
    return {name: Preset(name=name, **body) for name, body in raw.items()}


def preset(name: str) -> Preset:
    return presets()[name]


@cache
def blocklist() -> frozenset[str]:
    text = resources.files("config").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip() and line[0] != "#")


def _fold(s: str) -> str:
    return normalise_password(s).casefold()


def _common(folded: str, extra: list[str]) -> bool:
    # "Password1!" is "password" with the usual suffix: strip trailing digits and symbols.
    stem = re.sub(r"[\d\W_]+$", "", folded)
    words = blocklist() | {w for w in extra if len(w) >= MIN_NAME_LENGTH}
    if folded in words or stem in words:
        return True
    # Few distinct characters, a repeated unit ("passwordpassword", "abcabcabc...") or a
    # run of consecutive characters ("abcdefgh") is as guessable as a listed password.
    if len(set(folded)) <= 2 or re.fullmatch(r"(.+?)\1+", folded):
        return True
    steps = {ord(b) - ord(a) for a, b in zip(folded, folded[1:], strict=False)}
    return steps in ({1}, {-1})


def unmet(
    policy: Preset,
    password: str,
    *,
    names: list[str],
    username: str,
    history: list[str],
    mfa: bool = False,
    context_words: tuple[str, ...] = ("portico",),
) -> list[str]:
    """Every rule of ``policy`` that ``password`` breaks (empty when acceptable)."""
    pw = normalise_password(password)
    problems = []
    need = policy.min_length_with_mfa if mfa else policy.min_length
    if len(pw) < need:
        problems.append(f"at least {need} characters")
    if len(pw) > MAX_LENGTH:
        problems.append(f"at most {MAX_LENGTH} characters")
    if policy.require_upper and not any(ch.isupper() for ch in pw):
        problems.append("an upper-case letter")
    if policy.require_lower and not any(ch.islower() for ch in pw):
        problems.append("a lower-case letter")
    if policy.require_digit and not any(ch.isdigit() for ch in pw):
        problems.append("a digit")
    folded = _fold(pw)
    own = [_fold(n) for n in [*names, username, username.split("@")[0]] if n]
    if policy.forbid_own_names and any(len(n) >= MIN_NAME_LENGTH and n in folded for n in own):
        problems.append("not containing your name or username")
    if policy.blocklist and _common(folded, [_fold(w) for w in context_words]):
        problems.append("not a common or easily guessed password")
    if policy.history and any(verify_password(h, pw) for h in history[-policy.history :]):
        problems.append("not a password you have used before")
    return problems
