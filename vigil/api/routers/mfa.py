"""Two-factor sign-in for the signed-in user: TOTP enrolment, recovery codes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vigil.api.deps import ServicesDep
from vigil.api.problems import problem_responses
from vigil.api.schemas import Input, Output
from vigil.api.security import SessionDep, actor_of
from vigil.api.types import Code, Password
from vigil.app import Services
from vigil.auth import passwords, totp
from vigil.auth.errors import Conflict, Forbidden, NotAuthenticated
from vigil.store.models import User

router = APIRouter(prefix="/me/mfa", tags=["mfa"])

ISSUER = "Vigil"
RECOVERY_CODES = 10
WRONG_CODE = "The code is wrong or has expired."


class MfaStatusOut(Output):
    enabled: bool
    recovery_codes_left: int
    required_by_org: bool


class TotpEnrolmentOut(Output):
    """Shown once: scan ``qr_svg`` (or type ``secret``) into an authenticator app."""

    secret: str
    otpauth_uri: str
    qr_svg: str


class RecoveryCodesOut(Output):
    """Shown once: each code signs in once in place of an authenticator code."""

    recovery_codes: list[str]


class CodeIn(Input):
    code: Code


class DisableIn(Input):
    password: Password
    code: Code


def _not_enabled() -> Conflict:
    return Conflict("Two-factor sign-in is off for your account.", slug="mfa-off")


def _no_store(response: Response) -> None:
    # The body carries a secret: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"


async def _current_code(services: Services, user: User, code: str) -> int | None:
    """The time step of ``code`` if it is the user's authenticator code now, used up so that
    it works only once; None otherwise."""
    if user.totp_secret_encrypted is None:
        return None
    secret = services.auth.box.decrypt(user.totp_secret_encrypted)
    step = totp.verify_code(secret, code, last_step=user.totp_last_step)
    if step is None or not await services.auth.users.use_totp_step(user.id, step):
        return None
    return step


async def _new_recovery_codes(services: Services, user_id: int, step: int) -> list[str]:
    codes = totp.new_recovery_codes(RECOVERY_CODES)
    hashes = [totp.hash_recovery_code(code) for code in codes]
    await services.auth.users.enable_totp(user_id, step, hashes)
    services.auth.forget_user(user_id)
    return codes


@router.get("", responses=problem_responses(401, 403))
async def mfa_status(principal: SessionDep, services: ServicesDep) -> MfaStatusOut:
    """Whether two-factor sign-in is on for you, how many recovery codes are left, and
    whether your organisation requires it."""
    users = services.auth.users
    user = await users.get(principal.org_id, principal.user_id)
    org = await users.org(principal.org_id)
    left = await users.recovery_codes_left(user.id) if user.totp_enabled else 0
    return MfaStatusOut(
        enabled=user.totp_enabled, recovery_codes_left=left, required_by_org=org.require_mfa
    )


@router.post("/totp", status_code=201, responses=problem_responses(401, 403, 409))
async def start_totp(
    principal: SessionDep, request: Request, response: Response, services: ServicesDep
) -> TotpEnrolmentOut:
    """Start enrolment: a new authenticator secret, shown this once as text, an
    ``otpauth://`` URI and a QR code. Confirm it with a code to turn two-factor sign-in on.
    Starting again replaces a secret not yet confirmed; when it is on, turn it off first."""
    auth = services.auth
    user = await auth.users.get(principal.org_id, principal.user_id)
    if user.totp_enabled:
        raise Conflict(
            "Two-factor sign-in is already on: turn it off before enrolling again.", slug="mfa-on"
        )
    secret = totp.new_secret()
    await auth.users.start_totp(user.id, auth.box.encrypt(secret))
    await auth.audit.record(
        actor_of(request, principal), "mfa.enrolment_started", target=f"user:{user.id}"
    )
    uri = totp.provisioning_uri(secret, user.username, issuer=ISSUER)
    _no_store(response)
    return TotpEnrolmentOut(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))


@router.post("/totp/confirm", responses=problem_responses(401, 403, 409, 422))
async def confirm_totp(
    body: CodeIn,
    principal: SessionDep,
    request: Request,
    response: Response,
    services: ServicesDep,
) -> RecoveryCodesOut:
    """Finish enrolment with the code your authenticator app shows: two-factor sign-in is
    then on, and the answer holds your 10 recovery codes, shown this once."""
    auth = services.auth
    actor = actor_of(request, principal)
    target = f"user:{principal.user_id}"
    user = await auth.users.get(principal.org_id, principal.user_id)
    if user.totp_enabled:
        raise Conflict("Two-factor sign-in is already on.", slug="mfa-on")
    if user.totp_secret_encrypted is None:
        raise Conflict("Start enrolment first: POST /api/me/mfa/totp.", slug="mfa-not-started")
    secret = auth.box.decrypt(user.totp_secret_encrypted)
    step = totp.verify_code(secret, body.code, last_step=None)
    if step is None:
        await auth.audit.record(
            actor, "mfa.enable", outcome="failure", target=target, reason="wrong code"
        )
        raise NotAuthenticated(WRONG_CODE)
    codes = await _new_recovery_codes(services, user.id, step)
    await auth.audit.record(actor, "mfa.enable", target=target)
    _no_store(response)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/recovery-codes", responses=problem_responses(401, 403, 409, 422, 429))
async def new_recovery_codes(
    body: CodeIn,
    principal: SessionDep,
    request: Request,
    response: Response,
    services: ServicesDep,
) -> RecoveryCodesOut:
    """10 new recovery codes, shown this once, for a current authenticator code; the old
    ones stop working."""
    auth = services.auth
    actor = actor_of(request, principal)
    target = f"user:{principal.user_id}"
    user = await auth.users.get(principal.org_id, principal.user_id)
    if not user.totp_enabled:
        raise _not_enabled()
    # Guessing codes or the password here counts like failed sign-ins, and is held back alike.
    attempt = auth.guess(principal.username, actor.ip)
    step = await _current_code(services, user, body.code)
    if step is None:
        await auth.audit.record(
            actor, "mfa.recovery_codes", outcome="failure", target=target, reason="wrong code"
        )
        raise NotAuthenticated(WRONG_CODE)
    attempt.succeeded()
    codes = await _new_recovery_codes(services, user.id, step)
    await auth.audit.record(actor, "mfa.recovery_codes", target=target)
    _no_store(response)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/disable", status_code=204, responses=problem_responses(401, 403, 409, 422, 429))
async def disable_mfa(
    body: DisableIn, principal: SessionDep, request: Request, services: ServicesDep
) -> Response:
    """Turn two-factor sign-in off, with your password and a current authenticator code.
    Refused (403) while your organisation requires it."""
    auth = services.auth
    actor = actor_of(request, principal)
    target = f"user:{principal.user_id}"
    user = await auth.users.get(principal.org_id, principal.user_id)
    if not user.totp_enabled:
        raise _not_enabled()
    org = await auth.users.org(principal.org_id)
    if org.require_mfa:
        await auth.audit.record(
            actor, "mfa.disable", outcome="failure", target=target, reason="required by org"
        )
        raise Forbidden(
            "Your organisation requires two-factor sign-in: it cannot be turned off.",
            slug="mfa-required",
        )
    attempt = auth.guess(principal.username, actor.ip)
    password = body.password.get_secret_value()
    ok = user.password_hash is not None and await passwords.verify_password_async(
        user.password_hash, password
    )
    if not ok or await _current_code(services, user, body.code) is None:
        await auth.audit.record(
            actor, "mfa.disable", outcome="failure", target=target, reason="wrong password or code"
        )
        raise NotAuthenticated("Wrong password or code.")
    attempt.succeeded()
    await auth.users.reset_mfa(user.id)
    auth.forget_user(user.id)
    await auth.audit.record(actor, "mfa.disable", target=target)
    return Response(status_code=204)
