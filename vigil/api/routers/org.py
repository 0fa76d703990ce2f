"""The organisation itself and its sites: every member reads them, admins change them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field, ValidationInfo, field_validator

from vigil.api.deps import ServicesDep
from vigil.api.people_schemas import OrgOut
from vigil.api.problems import problem_responses
from vigil.api.schemas import Input, Output
from vigil.api.security import SignedInDep, actor_of, admin
from vigil.api.types import Address, Name, SiteId, Timestamp
from vigil.auth.permissions import Scope
from vigil.auth.principal import Principal
from vigil.store.models import Org, Site

router = APIRouter(tags=["organisation"])

People = Annotated[Principal, Depends(admin(Scope.PEOPLE))]


class OrgUpdate(Input):
    name: Name | None = None
    require_mfa: bool | None = Field(
        default=None,
        description="everyone must sign in with a second factor; people without one are "
        "asked to enrol before they can do anything else",
    )

    @field_validator("name", "require_mfa")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null")
        return value


class SiteIn(Input):
    name: Name
    address: Address | None = None


class SiteUpdate(Input):
    name: Name | None = None
    address: Address | None = Field(default=None, description="null clears it")

    @field_validator("name")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("name cannot be null")
        return value


class SiteOut(Output):
    id: int
    name: str
    address: str | None
    created_at: Timestamp


def _org_out(org: Org) -> OrgOut:
    return OrgOut(id=org.id, name=org.name, require_mfa=org.require_mfa)


def _site_out(site: Site) -> SiteOut:
    return SiteOut(id=site.id, name=site.name, address=site.address, created_at=site.created_at)


# The organisation ----------------------------------------------------------------------


@router.get("/org", responses=problem_responses(401))
async def get_org(principal: SignedInDep, services: ServicesDep) -> OrgOut:
    """Your organisation: its name and whether it requires two-factor sign-in."""
    return _org_out(await services.auth.users.org(principal.org_id))


@router.patch("/org", responses=problem_responses(400, 401, 403, 409, 422))
async def update_org(
    body: OrgUpdate, principal: People, request: Request, services: ServicesDep
) -> OrgOut:
    """Rename the organisation or require two-factor sign-in (admins); at once for everyone."""
    changes = body.model_dump(exclude_unset=True)
    # The store tells the auth service, which forgets cached sign-ins: at once for everyone.
    org = await services.auth.users.update_org(principal.org_id, changes)
    await services.auth.audit.record(
        actor_of(request), "org.update", target=f"org:{org.id}", fields=sorted(changes), **changes
    )
    return _org_out(org)


# Sites ---------------------------------------------------------------------------------


@router.get("/sites", responses=problem_responses(401))
async def list_sites(principal: SignedInDep, services: ServicesDep) -> list[SiteOut]:
    """The organisation's sites (a campus, a building), oldest first."""
    return [_site_out(site) for site in await services.auth.users.sites(principal.org_id)]


@router.post("/sites", status_code=201, responses=problem_responses(400, 401, 403, 409, 422))
async def create_site(
    body: SiteIn, principal: People, request: Request, services: ServicesDep
) -> SiteOut:
    """Add a site (admins); names are unique in the organisation regardless of case."""
    site = await services.auth.users.create_site(principal.org_id, body.name, body.address)
    await services.auth.audit.record(
        actor_of(request), "site.create", target=f"site:{site.id}", name=site.name
    )
    return _site_out(site)


@router.get("/sites/{site_id}", responses=problem_responses(401, 404, 422))
async def get_site(site_id: SiteId, principal: SignedInDep, services: ServicesDep) -> SiteOut:
    return _site_out(await services.auth.users.site(principal.org_id, site_id))


@router.patch("/sites/{site_id}", responses=problem_responses(400, 401, 403, 404, 409, 422))
async def update_site(
    site_id: SiteId,
    body: SiteUpdate,
    principal: People,
    request: Request,
    services: ServicesDep,
) -> SiteOut:
    """Rename a site or change its address (admins)."""
    changes = body.model_dump(exclude_unset=True)
    site = await services.auth.users.update_site(principal.org_id, site_id, changes)
    await services.auth.audit.record(
        actor_of(request), "site.update", target=f"site:{site.id}", fields=sorted(changes)
    )
    return _site_out(site)


@router.delete("/sites/{site_id}", status_code=204, responses=problem_responses(401, 403, 404, 422))
async def delete_site(
    site_id: SiteId, principal: People, request: Request, services: ServicesDep
) -> Response:
    """Delete a site (admins); its cameras stay, on no site."""
    site = await services.auth.users.delete_site(principal.org_id, site_id)
    await services.auth.audit.record(
        actor_of(request), "site.delete", target=f"site:{site.id}", name=site.name
    )
    return Response(status_code=204)
