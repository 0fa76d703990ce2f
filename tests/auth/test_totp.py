"""TOTP codes (window, replay, garbage), the QR code and recovery codes."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pyotp
import pytest

from vigil.auth.totp import (
    hash_recovery_code,
    new_recovery_codes,
    new_secret,
    normalise_recovery_code,
    provisioning_uri,
    qr_svg,
    verify_code,
)

AT = 1_700_000_015.0  # inside step 56,666,667
STEP = int(AT // 30)


@pytest.fixture
def secret() -> str:
    return new_secret()


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).at(step * 30)


def test_secret_is_160_bit_base32() -> None:
    secret = new_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert secret != new_secret()


def test_code_of_now_verifies_and_gives_its_step(secret: str) -> None:
    code = pyotp.TOTP(secret).at(AT)
    assert verify_code(secret, code, last_step=None, at=AT) == STEP
    assert verify_code(secret, f" {code[:3]} {code[3:]} ", last_step=None, at=AT) == STEP


def test_code_of_real_now_verifies(secret: str) -> None:
    assert verify_code(secret, pyotp.TOTP(secret).now(), last_step=None) is not None


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_either_way_is_accepted(secret: str, offset: int) -> None:
    code = code_at(secret, STEP + offset)
    assert verify_code(secret, code, last_step=None, at=AT) == STEP + offset


@pytest.mark.parametrize("offset", [-2, 2, -10])
def test_two_steps_away_is_refused(secret: str, offset: int) -> None:
    code = code_at(secret, STEP + offset)
    if code in {code_at(secret, STEP + d) for d in (-1, 0, 1)}:
        pytest.skip("one-in-a-million collision with a code in the window")
    assert verify_code(secret, code, last_step=None, at=AT) is None


def test_replay_is_refused(secret: str) -> None:
    code = code_at(secret, STEP)
    step = verify_code(secret, code, last_step=None, at=AT)
    assert step == STEP
    assert verify_code(secret, code, last_step=step, at=AT) is None
    assert verify_code(secret, code, last_step=step + 1, at=AT) is None
    # An earlier code, still in the window, is refused once a later one was used.
    assert verify_code(secret, code_at(secret, STEP - 1), last_step=step, at=AT) is None
    # The next step's code is still good.
    assert verify_code(secret, code_at(secret, STEP + 1), last_step=step, at=AT) == STEP + 1


@pytest.mark.parametrize("garbage", ["abcdef", "", "1234567", "12345", "12 34 5", "١٢٣٤٥٦"])
def test_garbage_is_refused(secret: str, garbage: str) -> None:
    assert verify_code(secret, garbage, last_step=None, at=AT) is None


def test_provisioning_uri_names_issuer_and_account(secret: str) -> None:
    uri = provisioning_uri(secret, "alice@example.com")
    assert uri.startswith("otpauth://totp/")
    assert "issuer=Vigil" in uri
    assert "alice@example.com" in unquote(uri)
    assert f"secret={secret}" in uri
    assert "issuer=Site%20B" in provisioning_uri(secret, "bob", issuer="Site B")


def test_qr_svg_is_an_svg_element(secret: str) -> None:
    svg = qr_svg(provisioning_uri(secret, "alice"))
    assert svg.startswith("<svg")
    assert "<?xml" not in svg
    assert svg.rstrip().endswith("</svg>")


def test_recovery_codes_are_unique_and_formatted() -> None:
    codes = new_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}", code)
    assert len(new_recovery_codes(3)) == 3
    assert set(new_recovery_codes()).isdisjoint(codes)


def test_recovery_code_hash_ignores_case_spaces_and_dashes() -> None:
    code = new_recovery_codes(1)[0]
    variants = [code, code.upper(), code.replace("-", ""), code.replace("-", " "), f" {code} "]
    assert {normalise_recovery_code(v) for v in variants} == {code.replace("-", "")}
    assert len({hash_recovery_code(v) for v in variants}) == 1
    assert re.fullmatch(r"[0-9a-f]{64}", hash_recovery_code(code))
    assert hash_recovery_code(code) != hash_recovery_code(new_recovery_codes(1)[0])
