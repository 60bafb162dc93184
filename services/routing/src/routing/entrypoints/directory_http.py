"""The agent directory over HTTP: agents, their presence and work, and teams.

An agent is keyed by the identity subject of their token (`GET /agents/me` is the caller's
entry). Supervisors and admins file and change agents and teams; an agent sets their own
presence, a supervisor anyone's. Every change answers with the entry's `ETag` (its version);
`PATCH /agents/{id}` takes `If-Match` to refuse a change made meanwhile.
"""

# No `from __future__ import annotations` here: FastAPI must evaluate the route signatures.

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import EmailStr, Field

from caseflow_servicekit import Authenticator, Clock, NotFound, Principal, Role
from caseflow_servicekit.edge import EdgeModel, Limit, Offset, Text, if_match_version
from routing.adapters.races import settled
from routing.adapters.uow import SqlRoutingUnitOfWork
from routing.app import directory
from routing.app.ports import AgentEntry, Team
from routing.domain import Presence

Name = Annotated[Text, Field(min_length=1, max_length=200)]
Skill = Annotated[Text, Field(min_length=1, max_length=100, pattern=r"^[^:]+(:[1-5])?$")]
Capacity = Annotated[int, Field(ge=0, le=1000)]
Language = Annotated[Text, Field(min_length=2, max_length=16)]
Languages = Annotated[list[Language], Field(max_length=20)]


class AgentView(EdgeModel):
    """An agent's directory entry, with their load and presence."""

    agent_id: UUID
    name: str
    email: str | None
    phone_extension: str | None
    manager_id: UUID | None
    languages: list[str]
    teams: list[UUID]
    skills: list[str]
    capacity: int
    work_units: dict[str, int]
    presence: Presence
    presence_reason: str
    presence_since: datetime | None
    active: bool
    version: int
    load_units: int
    last_assigned_at: datetime | None

    @classmethod
    def of(cls, entry: AgentEntry) -> "AgentView":
        return cls(
            agent_id=entry.agent_id,
            name=entry.name,
            email=entry.email,
            phone_extension=entry.phone_extension,
            manager_id=entry.manager_id,
            languages=list(entry.languages),
            teams=list(entry.teams),
            skills=sorted(entry.skills),
            capacity=entry.capacity,
            work_units=dict(entry.work_units),
            presence=entry.presence,
            presence_reason=entry.presence_reason,
            presence_since=entry.presence_since,
            active=entry.active,
            version=entry.version,
            load_units=entry.load_units,
            last_assigned_at=entry.last_assigned_at,
        )


class AgentPage(EdgeModel):
    items: list[AgentView]
    total: int
    limit: int
    offset: int


class NewAgent(EdgeModel):
    """An agent to file: `agent_id` is the identity subject of their token.

    `skills` are written `name` (level 1) or `name:level` (1–5). `work_units` says how many
    units of the capacity each kind of work takes: `case`, `case:<channel>`, `call`.
    """

    agent_id: UUID
    name: Name
    email: EmailStr | None = None
    phone_extension: Annotated[Text, Field(min_length=1, max_length=32)] | None = None
    manager_id: UUID | None = None
    languages: Annotated[
        list[Annotated[Text, Field(min_length=2, max_length=16)]], Field(max_length=20)
    ] = []
    teams: Annotated[list[UUID], Field(max_length=50)] = []
    skills: Annotated[list[Skill], Field(max_length=100)] = []
    capacity: Capacity = 5
    work_units: dict[Annotated[Text, Field(min_length=1, max_length=40)], Capacity] = {}
    presence: Presence = Presence.OFFLINE


class AgentChanges(EdgeModel):
    """What to change in an agent's entry; what is left out stays."""

    name: Name | None = None
    email: EmailStr | None = None
    phone_extension: Annotated[Text, Field(max_length=32)] | None = None
    manager_id: UUID | None = None
    languages: (
        Annotated[list[Annotated[Text, Field(min_length=2, max_length=16)]], Field(max_length=20)]
        | None
    ) = None
    teams: Annotated[list[UUID], Field(max_length=50)] | None = None
    skills: Annotated[list[Skill], Field(max_length=100)] | None = None
    capacity: Capacity | None = None
    work_units: dict[Annotated[Text, Field(min_length=1, max_length=40)], Capacity] | None = None
    active: bool | None = None


class PresenceChange(EdgeModel):
    """The presence to set."""

    presence: Presence


class TeamView(EdgeModel):
    team_id: UUID
    name: str
    manager_id: UUID | None

    @classmethod
    def of(cls, team: Team) -> "TeamView":
        return cls(team_id=team.team_id, name=team.name, manager_id=team.manager_id)


class NewTeam(EdgeModel):
    name: Name
    manager_id: UUID | None = None


class TeamChanges(EdgeModel):
    name: Name | None = None
    manager_id: UUID | None = None


def router(
    *,
    uow_factory: Callable[[], SqlRoutingUnitOfWork],
    auth: Authenticator,
    clock: Clock,
) -> APIRouter:
    """Routes for the agent directory and teams."""
    api = APIRouter(tags=["agents"])
    agent = Depends(auth.requires(Role.AGENT))
    supervisor = Depends(auth.requires(Role.SUPERVISOR))
    IfMatch = Annotated[str | None, Header(alias="If-Match")]

    @api.post("/agents", response_model=AgentView, status_code=201)
    async def add_agent(
        body: NewAgent, response: Response, _: Annotated[Principal, supervisor]
    ) -> AgentView:
        """File an agent in the directory."""
        entry = await directory.register_agent(
            AgentEntry(
                agent_id=body.agent_id,
                name=body.name,
                email=body.email,
                phone_extension=body.phone_extension,
                manager_id=body.manager_id,
                languages=tuple(body.languages),
                teams=tuple(body.teams),
                skills=frozenset(body.skills),
                capacity=body.capacity,
                work_units=dict(body.work_units),
                presence=body.presence,
            ),
            uow=uow_factory(),
            now=clock.now(),
        )
        return _answer(response, await _view(uow_factory, entry.agent_id))

    @api.get("/agents", response_model=AgentPage)
    async def list_agents(
        _: Annotated[Principal, agent],
        team_id: UUID | None = None,
        presence: Presence | None = None,
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> dict[str, Any]:
        """The directory by name; by team or presence if asked."""
        async with uow_factory() as uow:
            entries, total = await uow.agents.search(
                team_id=team_id, presence=presence, limit=limit, offset=offset
            )
        return {
            "items": [AgentView.of(e) for e in entries],
            "total": total,
            "limit": limit,
            "offset": offset,
        }

    @api.get(
        "/agents/me",
        response_model=AgentView,
        responses={404: {"description": "The caller is not in the agent directory."}},
    )
    async def get_me(response: Response, principal: Annotated[Principal, agent]) -> AgentView:
        """The caller's own entry."""
        return _answer(response, await _view(uow_factory, principal.agent_id))

    @api.put("/agents/me/presence", response_model=AgentView)
    async def set_my_presence(
        body: PresenceChange, response: Response, principal: Annotated[Principal, agent]
    ) -> AgentView:
        """Set one's own presence: available, busy, away or offline."""
        await settled(
            lambda: directory.set_presence(
                principal.agent_id,
                body.presence,
                by=_who(principal),
                uow=uow_factory(),
                now=clock.now(),
            )
        )
        return _answer(response, await _view(uow_factory, principal.agent_id))

    @api.get("/agents/me/work")
    async def my_work(
        principal: Annotated[Principal, agent],
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> dict[str, Any]:
        """The caller's own queue: the items they work, in queue order."""
        async with uow_factory() as uow:
            rows, total = await uow.queue_items.worked_by_agent(
                principal.agent_id, limit=limit, offset=offset
            )
        return {"items": rows, "total": total, "limit": limit, "offset": offset}

    @api.get("/agents/{agent_id}", response_model=AgentView)
    async def get_agent(
        agent_id: UUID, response: Response, _: Annotated[Principal, agent]
    ) -> AgentView:
        """One agent's entry."""
        return _answer(response, await _view(uow_factory, agent_id))

    @api.patch("/agents/{agent_id}", response_model=AgentView)
    async def patch_agent(
        agent_id: UUID,
        body: AgentChanges,
        response: Response,
        _: Annotated[Principal, supervisor],
        if_match: IfMatch = None,
    ) -> AgentView:
        """Change an agent's entry; with `If-Match`, only if unchanged since read."""
        changes = body.model_dump(exclude_unset=True)
        for name in ("name", "capacity", "active", "languages", "teams", "skills", "work_units"):
            if name in changes and changes[name] is None:
                changes.pop(name)  # null leaves what cannot be empty as it is
        for name in ("languages", "teams"):
            if name in changes:
                changes[name] = tuple(changes[name])
        if "skills" in changes:
            changes["skills"] = frozenset(changes["skills"])
        await directory.change_agent(
            agent_id,
            changes,
            uow=uow_factory(),
            now=clock.now(),
            expected_version=if_match_version(if_match, of="agent"),
        )
        return _answer(response, await _view(uow_factory, agent_id))

    @api.put("/agents/{agent_id}/presence", response_model=AgentView)
    async def set_agent_presence(
        agent_id: UUID,
        body: PresenceChange,
        response: Response,
        principal: Annotated[Principal, agent],
    ) -> AgentView:
        """Set an agent's presence: one's own, or anyone's for a supervisor."""
        await settled(
            lambda: directory.set_presence(
                agent_id, body.presence, by=_who(principal), uow=uow_factory(), now=clock.now()
            )
        )
        return _answer(response, await _view(uow_factory, agent_id))

    @api.get("/agents/{agent_id}/work")
    async def agent_work(
        agent_id: UUID,
        _: Annotated[Principal, supervisor],
        limit: Annotated[Limit, Query()] = 50,
        offset: Annotated[Offset, Query()] = 0,
    ) -> dict[str, Any]:
        """The items an agent works (for supervisors)."""
        async with uow_factory() as uow:
            rows, total = await uow.queue_items.worked_by_agent(
                agent_id, limit=limit, offset=offset
            )
        return {"items": rows, "total": total, "limit": limit, "offset": offset}

    @api.post("/teams", response_model=TeamView, status_code=201)
    async def add_team(body: NewTeam, _: Annotated[Principal, supervisor]) -> TeamView:
        """Add a team, with the manager its escalations go to."""
        team = await directory.create_team(body.name, body.manager_id, uow=uow_factory())
        return TeamView.of(team)

    @api.get("/teams", response_model=list[TeamView])
    async def list_teams(_: Annotated[Principal, agent]) -> list[TeamView]:
        """Every team by name."""
        async with uow_factory() as uow:
            return [TeamView.of(t) for t in await uow.teams.all()]

    @api.get("/teams/{team_id}", response_model=TeamView)
    async def get_team(team_id: UUID, _: Annotated[Principal, agent]) -> TeamView:
        """One team."""
        async with uow_factory() as uow:
            team = await uow.teams.get(team_id)
        if team is None:
            raise NotFound(f"There is no team {team_id}.")
        return TeamView.of(team)

    @api.patch("/teams/{team_id}", response_model=TeamView)
    async def patch_team(
        team_id: UUID, body: TeamChanges, _: Annotated[Principal, supervisor]
    ) -> TeamView:
        """Rename a team or give it another manager."""
        changes = body.model_dump(exclude_unset=True)
        if changes.get("name", "") is None:
            changes.pop("name")
        team = await directory.change_team(team_id, changes, uow=uow_factory(), now=clock.now())
        return TeamView.of(team)

    return api


def _who(principal: Principal) -> directory.Who:
    return directory.Who(agent_id=principal.agent_id, supervises=principal.has(Role.SUPERVISOR))


async def _view(uow_factory: Callable[[], SqlRoutingUnitOfWork], agent_id: UUID) -> AgentView:
    async with uow_factory() as uow:
        entry = await uow.agents.entry(agent_id)
    if entry is None or not entry.registered:
        raise NotFound(f"There is no agent {agent_id} in the directory.")
    return AgentView.of(entry)


def _answer(response: Response, view: AgentView) -> AgentView:
    response.headers["ETag"] = f'"{view.version}"'
    return view
