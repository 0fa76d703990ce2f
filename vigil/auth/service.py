"""Authentication: sign-in, sessions, API keys and signed links turned into a Principal.

Every request asks "who is this?", so answers are cached for a few seconds; whatever this
process changes (a revoked session, a new role, a grant) is forgotten at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from vigil.auth import passwords, totp
from vigil.auth.errors import LoginFailed, LoginThrottled, Throttled
from vigil.auth.permissions import Permission, Role, Scope
from vigil.auth.principal import Principal, Via
from vigil.auth.throttle import Attempt, Throttle
from vigil.auth.tokens import KEY_PREFIX, MediaSigner, new_token, token_hash
from vigil.secrets import SecretBox
from vigil.settings import AuthSettings
from vigil.store.access import AccessStore
from vigil.store.audit import Actor, AuditLog, RefusalSampler
from vigil.store.database import Database
from vigil.store.models import Org, User, UserSession, username_key
from vigil.store.sessions import ApiKeyStore, SessionStore
from vigil.store.users import UserStore
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)

# How long an answer to "who is this?" is trusted before the database is asked again.
CACHE_SECONDS = 5.0
# Sessions' and keys' last use is written at most this often.
TOUCH_MS = 60_000


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the token goes into the cookie and nowhere else."""

    token: str
    csrf: str
    session: UserSession
    principal: Principal


@dataclass(slots=True)
class _Cached:
    principal: Principal
    until: float
    last_seen_ms: int = 0
    expires_ms: int = 0


class AuthService:
    def __init__(self, settings: AuthSettings, db: Database, box: SecretBox) -> None:
        self.settings = settings
        self.users = UserStore(db)
        self.sessions = SessionStore(db)
        self.keys = ApiKeyStore(db)
        self.access = AccessStore(db)
        self.audit = AuditLog(db)
        self.box = box
        self.throttle = Throttle.of_guesses_at("account", settings)
        self.refusals = RefusalSampler(self.audit)
        self.signer = MediaSigner(box.derive("media links"), settings.media_link_seconds)
        self._csrf_key = box.derive("csrf")
        self._by_session: dict[str, _Cached] = {}
        self._by_key: dict[str, _Cached] = {}
        self._by_user: dict[int, _Cached] = {}
        self._permissions: dict[int, tuple[float, dict[int, frozenset[Permission]]]] = {}
        self._accounts: dict[int, tuple[float, User, Org]] = {}
        self.users.listen(self._stored)

    # Sign-in -------------------------------------------------------------------------

    def guess(self, account: str, address: str | None) -> Attempt:
        """Count a guess at ``account``'s password or code from ``address``, before it is
        checked (LoginThrottled while either, or the server, is held back)."""
        try:
            return self.throttle.attempt(account=username_key(account), address=address)
        except Throttled as exc:
            raise LoginThrottled(exc.retry_after) from None

    async def login(
        self,
        username: str,
        password: str,
        code: str | None,
        actor: Actor,
    ) -> SignedIn:
        """A new session, or LoginFailed / LoginThrottled (the same for unknown names)."""
        try:
            attempt = self.guess(username, actor.ip)
        except LoginThrottled:
            user = await self.users.by_username(username)
            org_id = user.org_id if user else None
            who = Actor(
                org_id, user.id if user else None, username, None, actor.ip, actor.user_agent
            )
            await self.refusals.refused(
                who, "login", outcome="failure", reason="locked out", org_id=org_id
            )
            raise
        user = await self.users.by_username(username)
        ok = False
        reason = "unknown user"
        if user is None or user.password_hash is None or user.disabled:
            await passwords.verify_dummy_async(password)
            if user is not None:
                reason = "disabled" if user.disabled else "no password set"
        elif not await passwords.verify_password_async(user.password_hash, password):
            reason = "wrong password"
        elif user.totp_enabled and not await self._second_factor(user, code):
            reason = "wrong or missing code"
        else:
            ok = True
        if not ok or user is None:
            if user is None:
                # Names no one has: nobody's log to write to, and anyone can make up more.
                await self.refusals.refused(
                    Actor(None, None, username, None, actor.ip, actor.user_agent),
                    "login",
                    outcome="failure",
                    reason=reason,
                    org_id=None,
                )
                raise LoginFailed
            who = Actor(user.org_id, user.id, username, None, actor.ip, actor.user_agent)
            await self.audit.record(who, "login", outcome="failure", reason=reason)
            raise LoginFailed
        attempt.succeeded()
        assert user.password_hash is not None
        if passwords.needs_rehash(user.password_hash):
            new_hash = await passwords.hash_password_async(password)
            await self.users.update(user.org_id, user.id, {"password_hash": new_hash})
        signed_in = await self.start_session(user, actor)
        await self.audit.record(
            self.actor(signed_in.principal, actor.ip, actor.user_agent),
            "login",
            mfa=user.totp_enabled,
        )
        return signed_in

    async def start_session(self, user: User, actor: Actor) -> SignedIn:
        token = new_token()
        now = now_ms()
        session = await self.sessions.create(
            user.id,
            token_hash(token),
            now,
            now + int(self.settings.session_max_hours * 3_600_000),
            actor.ip,
            actor.user_agent,
        )
        principal = await self._principal_of(user, Via.SESSION, session_id=session.id)
        return SignedIn(token, self.csrf_token(token), session, principal)

    async def _second_factor(self, user: User, code: str | None) -> bool:
        if not code or user.totp_secret_encrypted is None:
            return False
        code = code.strip()
        if code.replace(" ", "").isdigit():
            secret = self.box.decrypt(user.totp_secret_encrypted)
            step = totp.verify_code(secret, code, last_step=user.totp_last_step)
            return step is not None and await self.users.use_totp_step(user.id, step)
        used = await self.users.use_recovery_code(user.id, totp.hash_recovery_code(code))
        if used:
            left = await self.users.recovery_codes_left(user.id)
            await self.audit.record(
                Actor(user.org_id, user.id, user.username),
                "mfa.recovery_code_used",
                codes_left=left,
            )
        return used

    def csrf_token(self, session_token: str) -> str:
        """The token a cookie-authenticated write must echo in ``X-CSRF-Token``."""
        digest = hmac.new(self._csrf_key, session_token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()

    def csrf_ok(self, session_token: str, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(
            self.csrf_token(session_token).encode(), presented.encode()
        )

    # Accounts ------------------------------------------------------------------------

    async def new_password_hash(self, password: str, username: str) -> str:
        """The argon2id hash of an acceptable password; WeakPassword says why not."""
        passwords.check_password(
            password, username=username, min_length=self.settings.min_password_length
        )
        return await passwords.hash_password_async(password)

    async def create_admin(self, org_name: str, username: str, password: str) -> User:
        """An admin in the organisation named ``org_name``, made if there is none.

        An organisation with no people yet (such as the one an upgrade made for existing
        cameras) is the first admin's to name.
        """
        password_hash = await self.new_password_hash(password, username)
        org = await self.users.org_named(org_name)
        if org is None:
            orgs = await self.users.orgs()
            empty = [o for o in orgs if not await self.users.of_org(o.id)]
            if len(orgs) == 1 and empty:
                org = await self.users.update_org(orgs[0].id, {"name": org_name})
            else:
                org = await self.users.create_org(org_name)
        return await self.users.create(org.id, username, "admin", password_hash)

    # Who is this? --------------------------------------------------------------------

    async def session_principal(self, token: str) -> Principal | None:
        hashed = token_hash(token)
        now = time.monotonic()
        now_wall = now_ms()
        cached = self._by_session.get(hashed)
        if cached is None or cached.until < now:
            row = await self.sessions.by_hash(hashed)
            if row is None:
                self._by_session.pop(hashed, None)
                return None
            user = await self.users.by_id(row.user_id)
            if user is None or user.disabled:
                return None
            principal = await self._principal_of(user, Via.SESSION, session_id=row.id)
            cached = _Cached(principal, now + CACHE_SECONDS, row.last_seen_at, row.expires_at)
            self._by_session[hashed] = cached
        idle_ms = int(self.settings.session_idle_minutes * 60_000)
        if now_wall > cached.expires_ms or now_wall - cached.last_seen_ms > idle_ms:
            await self.end_sessions([hashed])
            return None
        if now_wall - cached.last_seen_ms > TOUCH_MS:
            cached.last_seen_ms = now_wall
            assert cached.principal.session_id is not None
            await self.sessions.touch(cached.principal.session_id, now_wall)
        return cached.principal

    async def key_principal(self, key: str, ip: str | None) -> Principal | None:
        if not key.startswith(KEY_PREFIX) or len(key) > 100:
            return None
        hashed = token_hash(key)
        now = time.monotonic()
        now_wall = now_ms()
        cached = self._by_key.get(hashed)
        if cached is None or cached.until < now:
            row = await self.keys.by_hash(hashed)
            if row is None or row.revoked_at is not None:
                return None
            user = await self.users.by_id(row.user_id)
            if user is None or user.disabled:
                return None
            base = await self._principal_of(user, Via.KEY, key_id=row.id)
            scopes = frozenset(Scope(s) for s in row.scopes if s in Scope.__members__.values())
            principal = Principal(
                base.user_id,
                base.org_id,
                base.username,
                base.role,
                Via.KEY,
                key_id=row.id,
                scopes=scopes,
            )
            cached = _Cached(principal, now + CACHE_SECONDS, row.last_used_at or 0)
            cached.expires_ms = row.expires_at or 0
            self._by_key[hashed] = cached
        if cached.expires_ms and now_wall > cached.expires_ms:
            return None
        if now_wall - cached.last_seen_ms > TOUCH_MS:
            cached.last_seen_ms = now_wall
            assert cached.principal.key_id is not None
            await self.keys.used(cached.principal.key_id, now_wall, ip)
            await self.audit.record(self.actor(cached.principal, ip, None), "key.used")
        return cached.principal

    async def user_principal(self, user_id: int, via: Via) -> Principal | None:
        """The user as they are now (for signed links); None if gone or disabled."""
        now = time.monotonic()
        cached = self._by_user.get(user_id)
        if cached is None or cached.until < now:
            user = await self.users.by_id(user_id)
            if user is None or user.disabled:
                return None
            cached = _Cached(await self._principal_of(user, via), now + CACHE_SECONDS)
            self._by_user[user_id] = cached
        principal = cached.principal
        return principal if principal.via is via else _with_via(principal, via)

    async def camera_permissions(self, principal: Principal) -> Mapping[int, frozenset[Permission]]:
        now = time.monotonic()
        cached = self._permissions.get(principal.user_id)
        if cached is None or cached[0] < now:
            permissions = await self.access.camera_permissions(
                principal.org_id, principal.user_id, principal.role
            )
            cached = (now + CACHE_SECONDS, permissions)
            self._permissions[principal.user_id] = cached
        return cached[1]

    async def account(self, principal: Principal) -> tuple[User, Org]:
        """The caller's user and organisation rows, as cached with their sign-in."""
        cached = self._accounts.get(principal.user_id)
        if cached is None or cached[0] < time.monotonic():
            found = await self.users.with_org(principal.user_id)
            if found is None:
                raise LookupError(f"user {principal.user_id} is gone")
            cached = (time.monotonic() + CACHE_SECONDS, *found)
            self._accounts[principal.user_id] = cached
        return cached[1], cached[2]

    async def _principal_of(
        self,
        user: User,
        via: Via,
        session_id: int | None = None,
        key_id: int | None = None,
    ) -> Principal:
        org = await self.users.org(user.org_id)
        self._accounts[user.id] = (time.monotonic() + CACHE_SECONDS, user, org)
        return Principal(
            user.id,
            user.org_id,
            user.username,
            Role(user.role),
            via,
            session_id=session_id,
            key_id=key_id,
            mfa_pending=via is Via.SESSION and org.require_mfa and not user.totp_enabled,
        )

    # Forgetting ----------------------------------------------------------------------

    async def end_sessions(self, hashes: list[str]) -> None:
        for hashed in hashes:
            cached = self._by_session.pop(hashed, None)
            if cached is not None and cached.principal.session_id is not None:
                await self.sessions.delete(cached.principal.user_id, cached.principal.session_id)

    def forget_user(self, user_id: int) -> None:
        """Drop what is cached about a user: their role, sessions, keys or rights changed."""
        for cache in (self._by_session, self._by_key):
            for hashed in [h for h, c in cache.items() if c.principal.user_id == user_id]:
                del cache[hashed]
        self._by_user.pop(user_id, None)
        self._permissions.pop(user_id, None)
        self._accounts.pop(user_id, None)

    def _stored(self, kind: str, row_id: int) -> None:
        """A user or organisation row changed (in this process): drop what depends on it."""
        if kind == "user":
            self.forget_user(row_id)
            return
        # An organisation changed (rare): forget every answer rather than pick through them.
        for cache in (self._by_session, self._by_key, self._by_user, self._accounts):
            cache.clear()
        self._permissions.clear()

    def forget_access(self) -> None:
        """Grants, groups or cameras changed: everyone's camera rights are read again."""
        self._permissions.clear()

    @staticmethod
    def actor(principal: Principal | None, ip: str | None, user_agent: str | None) -> Actor:
        if principal is None:
            return Actor(ip=ip, user_agent=user_agent)
        return Actor(
            principal.org_id,
            principal.user_id,
            principal.username,
            principal.key_id,
            ip,
            user_agent,
        )


def _with_via(principal: Principal, via: Via) -> Principal:
    return Principal(principal.user_id, principal.org_id, principal.username, principal.role, via)
