"""The password presets: school-aup (Cloud School policy) and nist (SP 800-63B), over generated input."""

from __future__ import annotations

import string
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.access.passwords import MIN_NAME_LENGTH, preset, unmet
from gateway.access.security import hash_password, verify_password

AUP, NIST = preset("school-aup"), preset("nist")
names = st.text(alphabet=string.ascii_letters, min_size=1, max_size=12)
passwords = st.text(alphabet=string.ascii_letters + string.digits + " !#-_.", min_size=0, max_size=40)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def aup_oracle(pw: str, forename: str, surname: str, username: str) -> bool:
    """The Cloud School rules as written, independently of the implementation."""
    low = pw.casefold()
    own = [
        n.casefold()
        for n in (forename, surname, username, username.split("@")[0])
        if len(n) >= MIN_NAME_LENGTH
    ]
    return (
        len(pw) >= 8
        and any(c.isupper() for c in pw)
        and any(c.islower() for c in pw)
        and any(c.isdigit() for c in pw)
        and not any(n in low for n in own)
    )


@FAST
@given(pw=passwords, forename=names, surname=names)
def test_school_aup_accepts_exactly_what_the_cloud_school_policy_allows(
    pw: str, forename: str, surname: str
) -> None:
    username = f"{forename}.{surname}@example.org".lower()
    got = unmet(AUP, pw, names=[forename, surname], username=username, history=[])
    assert (got == []) == aup_oracle(pw, forename, surname, username)


@FAST
@given(pw=st.text(alphabet=string.ascii_lowercase + " ", min_size=15, max_size=80))
def test_nist_has_no_composition_rules_for_long_lowercase_passphrases(pw: str) -> None:
    got = unmet(NIST, pw, names=["Zq"], username="zz@example.org", history=[])
    assert "an upper-case letter" not in got and "a digit" not in got
    assert all(not m.startswith("at least") for m in got)


@FAST
@given(n=st.integers(min_value=0, max_value=14), mfa=st.booleans())
def test_nist_needs_15_characters_or_8_with_a_second_factor(n: int, mfa: bool) -> None:
    pw = "".join("qwmbrtkzxnvpjh"[i % 14] for i in range(n)) + "ü" * 0
    got = unmet(NIST, pw, names=[], username="u@example.org", history=[], mfa=mfa)
    assert ("at least 8 characters" in got if mfa else "at least 15 characters" in got) == (
        n < (8 if mfa else 15)
    )


@FAST
@given(
    name=st.text(alphabet=string.ascii_letters, min_size=3, max_size=10),
    pad=st.text(alphabet="xyz 0123", min_size=15, max_size=20),
)
def test_both_presets_refuse_a_password_containing_the_users_name(name: str, pad: str) -> None:
    for p in (AUP, NIST):
        pw = "Q9" + pad + name.swapcase()
        assert "not containing your name or username" in unmet(
            p, pw, names=[name, "Other"], username="u@example.org", history=[]
        )


def test_nist_refuses_common_passwords_and_their_usual_suffixes_but_not_good_passphrases() -> None:
    for pw in (
        "passwordpassword",
        "Password1234567!",
        "qwertyuiop123456",
        "aaaaaaaaaaaaaaaa",
        "abcdefghijklmnop",
    ):
        assert "not a common or easily guessed password" in unmet(
            NIST, pw, names=[], username="u@x.org", history=[]
        ), pw
    assert unmet(NIST, "correct horse battery staple", names=[], username="u@x.org", history=[]) == []
    assert (
        unmet(AUP, "Password1", names=[], username="u@x.org", history=[]) == []
    )  # the seed's rules have no blocklist


def test_school_aup_refuses_a_previous_password_and_nist_keeps_no_history() -> None:
    old = hash_password("Summer2026x")
    assert "not a password you have used before" in unmet(
        AUP, "Summer2026x", names=[], username="u@x.org", history=[old]
    )
    assert unmet(AUP, "Autumn2026x", names=[], username="u@x.org", history=[old]) == []
    assert NIST.history == 0 and NIST.expires_after_days is None
    assert (AUP.expires_after_days, AUP.remind_at_day, AUP.remind_daily_from_day) == (90, 80, 85)


@settings(max_examples=5, deadline=None)
@given(
    pw=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=64, max_size=200)
)
def test_long_passwords_are_accepted_and_never_truncated(pw: str) -> None:
    assert all(not m.startswith("at most") for m in unmet(NIST, pw, names=[], username="u@x.org", history=[]))
    stored = hash_password(pw)
    assert verify_password(stored, pw)
    assert not verify_password(stored, pw[:-1]) or unicodedata.normalize(
        "NFKC", pw[:-1]
    ) == unicodedata.normalize("NFKC", pw)


def test_unicode_is_normalised_so_equivalent_spellings_verify() -> None:
    composed, decomposed = "Caf\u00e9 au lait avec sucre 1", "Cafe\u0301 au lait avec sucre 1"
    assert composed != decomposed
    assert verify_password(hash_password(composed), decomposed)
    assert hash_password(composed).startswith("$argon2id$")
