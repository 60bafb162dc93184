"""The agent directory and teams in PostgreSQL, and the load each agent carries.

An agent's load (`agents.load_units`) rises only through `take_units` or `take_units_many`,
statements that add the units only while they fit the capacity: two assignments racing for an
agent's last unit cannot both win, whichever replica runs them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    RowMapping,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from routing.adapters.tables import agent_teams, agents, queue_items, teams
from routing.app.ports import AgentEntry, Team
from routing.domain import Agent, Presence, Queue, QueueItemStatus, QueueKind

_ASSIGNED = QueueItemStatus.ASSIGNED.value


class SqlAgentRepository:
    """Agents: their directory entries, presence and load."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # Names and first languages of the agents this transaction read, for notifications.
        self._contacts: dict[UUID, tuple[str, str | None]] = {}

    # -- the directory ---------------------------------------------------------------------

    async def entry(self, agent_id: UUID, *, for_update: bool = False) -> AgentEntry | None:
        """The agent's directory entry, or None."""
        stmt = _entries().where(agents.c.agent_id == agent_id)
        if for_update:
            stmt = stmt.with_for_update(of=agents)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _entry(row)

    async def by_extension(self, extension: str) -> AgentEntry | None:
        """The active agent at a phone extension, or None."""
        row = (
            (
                await self._session.execute(
                    _entries().where(agents.c.phone_extension == extension.strip(), agents.c.active)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _entry(row)

    async def search(
        self,
        *,
        team_id: UUID | None = None,
        presence: Presence | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[AgentEntry], int]:
        """Registered agents by name, with the total for paging."""
        conditions: list[ColumnElement[bool]] = [agents.c.registered]
        if team_id is not None:
            conditions.append(
                agents.c.agent_id.in_(
                    select(agent_teams.c.agent_id).where(agent_teams.c.team_id == team_id)
                )
            )
        if presence is not None:
            conditions.append(agents.c.presence == presence.value)
        rows = (
            await self._session.execute(
                _entries()
                .where(*conditions)
                .order_by(agents.c.name, agents.c.agent_id)
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        total = await self._session.scalar(
            select(func.count()).select_from(agents).where(*conditions)
        )
        return [_entry(row) for row in rows], int(total or 0)

    async def unknown_skills(self, names: Iterable[str]) -> set[str]:
        """The skill names among `names` no registered agent has."""
        wanted = set(names)
        if not wanted:
            return set()
        held = await self._session.scalars(
            select(func.distinct(func.split_part(func.unnest(agents.c.skills), ":", 1))).where(
                agents.c.registered
            )
        )
        return wanted - set(held)

    async def extension_taken(self, extension: str, *, by_other_than: UUID) -> bool:
        """Whether another agent sits at the extension."""
        found = await self._session.scalar(
            select(agents.c.agent_id).where(
                agents.c.phone_extension == extension, agents.c.agent_id != by_other_than
            )
        )
        return found is not None

    async def save_entry(self, entry: AgentEntry) -> None:
        """Insert or overwrite the agent's entry (their load and last assignment stay)."""
        values = {
            "name": entry.name,
            "email": entry.email,
            "phone_extension": entry.phone_extension,
            "manager_id": entry.manager_id,
            "languages": list(entry.languages),
            "skills": sorted(entry.skills),
            "capacity": entry.capacity,
            "work_units": dict(entry.work_units),
            "presence": entry.presence.value,
            "presence_reason": entry.presence_reason,
            "presence_since": entry.presence_since,
            "active": entry.active,
            "version": entry.version,
            "registered": True,
        }
        await self._session.execute(
            pg_insert(agents)
            .values(agent_id=entry.agent_id, **values)
            .on_conflict_do_update(index_elements=[agents.c.agent_id], set_=values)
        )
        await self._session.execute(
            delete(agent_teams).where(agent_teams.c.agent_id == entry.agent_id)
        )
        if entry.teams:
            await self._session.execute(
                insert(agent_teams),
                [
                    {"agent_id": entry.agent_id, "team_id": team, "position": n}
                    for n, team in enumerate(entry.teams)
                ],
            )

    # -- assignment ------------------------------------------------------------------------

    async def enroll(self, agent_id: UUID, *, name: str, capacity: int) -> Agent:
        """The agent, met first at a pick if unknown (available, no skills), locked until
        commit."""
        await self._session.execute(
            pg_insert(agents)
            .values(
                agent_id=agent_id,
                name=name,
                skills=[],
                capacity=capacity,
                presence=Presence.AVAILABLE.value,
            )
            .on_conflict_do_nothing(index_elements=[agents.c.agent_id])
        )
        found = await self.get(agent_id, for_update=True)
        assert found is not None
        return found

    async def get(self, agent_id: UUID, *, for_update: bool = False) -> Agent | None:
        """The agent as strategies see them, or None."""
        stmt = _agents().where(agents.c.agent_id == agent_id)
        if for_update:
            stmt = stmt.with_for_update(of=agents)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else _agent(row)

    async def get_many(self, agent_ids: Collection[UUID]) -> dict[UUID, Agent]:
        """The known agents among `agent_ids`."""
        if not agent_ids:
            return {}
        rows = await self._session.execute(_GET_MANY, {"ids": list(agent_ids)})
        return {row["agent_id"]: _agent(row) for row in rows.mappings()}

    async def candidates_many(self, queues: Sequence[Queue]) -> dict[UUID, list[Agent]]:
        """Each queue's members who could take work now (active, available, not full), read
        with one statement; an agent in several of the queues is the same object in each."""
        if not queues:
            return {}
        teams = sorted({q.team_id for q in queues if q.kind is QueueKind.TEAM and q.team_id})
        owners = sorted({q.owner_id for q in queues if q.kind is QueueKind.PERSONAL and q.owner_id})
        rows = await self._session.execute(
            _CANDIDATES,
            {
                "public": any(q.kind is QueueKind.PUBLIC for q in queues),
                "teams": teams,
                "owners": owners,
            },
        )
        # Sorted once by what makes a member: registration (public queues), teams, identity.
        registered: list[Agent] = []
        by_team: dict[UUID, list[Agent]] = {}
        by_id: dict[UUID, Agent] = {}
        for row in rows.mappings():
            languages = row["languages"]
            self._contacts[row["agent_id"]] = (row["name"], languages[0] if languages else None)
            agent = _agent(row)
            by_id[agent.agent_id] = agent
            if row["registered"]:
                registered.append(agent)
            for team_id in agent.teams:
                by_team.setdefault(team_id, []).append(agent)
        found: dict[UUID, list[Agent]] = {}
        for queue in queues:
            if queue.kind is QueueKind.TEAM:
                found[queue.queue_id] = (
                    list(by_team.get(queue.team_id, [])) if queue.team_id else []
                )
            elif queue.kind is QueueKind.PERSONAL:
                owner = by_id.get(queue.owner_id) if queue.owner_id else None
                found[queue.queue_id] = [] if owner is None else [owner]
            else:
                found[queue.queue_id] = list(registered)
        return found

    async def contact(self, agent_id: UUID) -> tuple[str, str | None] | None:
        """The agent's name and first language, if the directory has them."""
        if (known := self._contacts.get(agent_id)) is not None:
            return known
        entry = await self.entry(agent_id)
        if entry is None:
            return None
        return entry.name, entry.languages[0] if entry.languages else None

    async def available_members(self, queue: Queue) -> int:
        """How many of the queue's members are available (full or not)."""
        n = await self._session.scalar(
            select(func.count())
            .select_from(agents)
            .where(
                agents.c.active,
                agents.c.presence == Presence.AVAILABLE.value,
                _membership(queue),
            )
        )
        return int(n or 0)

    async def take_units(self, agent_id: UUID, units: int, *, at: datetime) -> bool:
        """Add `units` to the agent's load if they fit the capacity; whether they did."""
        taken = await self._session.scalar(
            update(agents)
            .where(
                agents.c.agent_id == agent_id,
                agents.c.load_units + units <= agents.c.capacity,
            )
            .values(load_units=agents.c.load_units + units, last_assigned_at=at)
            .returning(agents.c.agent_id)
        )
        return taken is not None

    async def take_units_many(self, units: Mapping[UUID, int], *, at: datetime) -> set[UUID]:
        """Add to each agent's load the units given for them, for each whose capacity holds
        them all; the agents whose load rose. The rows are locked in the order of their ids,
        the one order every pass locks agents in."""
        if not units:
            return set()
        return await self._change_loads(units, at=at)

    async def add_units(self, agent_id: UUID, units: int, *, at: datetime) -> None:
        """Add `units` to the agent's load whatever the capacity (work they took elsewhere)."""
        await self._session.execute(
            update(agents)
            .where(agents.c.agent_id == agent_id)
            .values(load_units=agents.c.load_units + units, last_assigned_at=at)
        )

    async def free_units_many(self, units: Mapping[UUID, int]) -> None:
        """Take the units given off each agent's load (never below zero), with one statement,
        locking the agents in the order of their ids."""
        if units:
            await self._change_loads({agent_id: -n for agent_id, n in units.items()}, at=None)

    async def _change_loads(self, units: Mapping[UUID, int], *, at: datetime | None) -> set[UUID]:
        ids = sorted(units)
        rows = await self._session.execute(
            _CHANGE_LOADS, {"ids": ids, "units": [units[i] for i in ids], "at": at}
        )
        return set(rows.scalars())

    async def free_units(self, agent_id: UUID, units: int) -> None:
        """Take `units` off the agent's load (never below zero)."""
        await self._session.execute(
            update(agents)
            .where(agents.c.agent_id == agent_id)
            .values(load_units=func.greatest(agents.c.load_units - units, 0))
        )

    async def loads(self, queue: Queue) -> list[dict[str, Any]]:
        """Each member's load, presence and the items they work in the queue."""
        working = (
            select(queue_items.c.worked_by, func.count().label("n_items"))
            .where(queue_items.c.queue_id == queue.queue_id, queue_items.c.status == _ASSIGNED)
            .group_by(queue_items.c.worked_by)
            .subquery()
        )
        rows = await self._session.execute(
            select(
                agents.c.agent_id,
                agents.c.name,
                agents.c.presence,
                agents.c.capacity,
                agents.c.load_units,
                func.coalesce(working.c.n_items, 0).label("items"),
            )
            .outerjoin(working, working.c.worked_by == agents.c.agent_id)
            .where(agents.c.active, or_(_membership(queue), working.c.n_items.is_not(None)))
            .order_by(agents.c.name, agents.c.agent_id)
        )
        return [dict(row) for row in rows.mappings()]


class SqlTeamRepository:
    """Teams, each with its manager."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, team_id: UUID) -> Team | None:
        row = (
            (await self._session.execute(select(teams).where(teams.c.team_id == team_id)))
            .mappings()
            .first()
        )
        return None if row is None else _team(row)

    async def find_by_name(self, name: str) -> Team | None:
        row = (
            (
                await self._session.execute(
                    select(teams).where(func.lower(teams.c.name) == name.strip().lower())
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _team(row)

    async def all(self) -> list[Team]:
        rows = await self._session.execute(select(teams).order_by(teams.c.name))
        return [_team(row) for row in rows.mappings()]

    async def missing(self, team_ids: Iterable[UUID]) -> set[UUID]:
        """The ids among `team_ids` no team has."""
        wanted = set(team_ids)
        if not wanted:
            return set()
        found = await self._session.scalars(
            select(teams.c.team_id).where(teams.c.team_id.in_(wanted))
        )
        return wanted - set(found)

    async def save(self, team: Team) -> None:
        values = {"name": team.name, "manager_id": team.manager_id}
        await self._session.execute(
            pg_insert(teams)
            .values(team_id=team.team_id, **values)
            .on_conflict_do_update(index_elements=[teams.c.team_id], set_=values)
        )

    async def managers(self, team_ids: Sequence[UUID]) -> list[UUID]:
        """The managers of the teams, in the teams' order, where they have one."""
        if not team_ids:
            return []
        rows = dict(
            (
                await self._session.execute(
                    select(teams.c.team_id, teams.c.manager_id).where(teams.c.team_id.in_(team_ids))
                )
            ).all()
        )
        return [rows[t] for t in team_ids if rows.get(t) is not None]

    async def member_ids(self, team_id: UUID) -> list[UUID]:
        found = await self._session.scalars(
            select(agent_teams.c.agent_id).where(agent_teams.c.team_id == team_id)
        )
        return list(found)


_CHANGE_LOADS = text(
    """
    WITH change AS (
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:units AS integer[])) AS c(id, units)
    ), locked AS (
        SELECT a.agent_id FROM agents AS a JOIN change ON change.id = a.agent_id
        ORDER BY a.agent_id FOR NO KEY UPDATE OF a
    )
    UPDATE agents AS a
    SET load_units = greatest(a.load_units + change.units, 0),
        last_assigned_at = CASE WHEN change.units > 0 THEN :at ELSE a.last_assigned_at END
    FROM change
    WHERE a.agent_id = change.id
      AND a.agent_id IN (SELECT agent_id FROM locked)
      AND (change.units < 0 OR a.load_units + change.units <= a.capacity)
    RETURNING a.agent_id
    """
)
"""Several agents' loads changed at once: raised (and their last assignment noted) only within
their capacity, lowered never below zero. The rows are locked as an update of a column that is
no key locks them (`FOR NO KEY UPDATE`), so that a claim naming an agent (the key share its
foreign key takes) never waits on it, nor it on the claim."""


def _membership(queue: Queue) -> Any:
    """Who may be given the queue's items: every registered agent of a public queue, the
    team's members, or a personal queue's agent."""
    if queue.kind is QueueKind.TEAM:
        return agents.c.agent_id.in_(
            select(agent_teams.c.agent_id).where(agent_teams.c.team_id == queue.team_id)
        )
    if queue.kind is QueueKind.PERSONAL:
        return agents.c.agent_id == queue.owner_id
    return and_(agents.c.registered)


def _team_ids() -> Any:
    return (
        select(func.array_agg(aggregate_order_by(agent_teams.c.team_id, agent_teams.c.position)))
        .where(agent_teams.c.agent_id == agents.c.agent_id)
        .scalar_subquery()
    )


def _agents() -> Any:
    return select(
        agents.c.agent_id,
        agents.c.name,
        agents.c.skills,
        agents.c.capacity,
        agents.c.work_units,
        agents.c.load_units,
        agents.c.presence,
        agents.c.last_assigned_at,
        agents.c.languages,
        _team_ids().label("teams"),
    )


def _agent(row: RowMapping) -> Agent:
    return Agent.stored(
        agent_id=row["agent_id"],
        name=row["name"],
        skills=frozenset(row["skills"]),
        capacity=row["capacity"],
        presence=row["presence"],
        active_items=row["load_units"],
        last_assigned_at=row["last_assigned_at"],
        teams=frozenset(row["teams"] or ()),
        work_units=dict(row["work_units"] or {}),
    )


def _entries() -> Any:
    return select(agents, _team_ids().label("teams"))


def _entry(row: RowMapping) -> AgentEntry:
    return AgentEntry(
        agent_id=row["agent_id"],
        name=row["name"],
        email=row["email"],
        phone_extension=row["phone_extension"],
        manager_id=row["manager_id"],
        languages=tuple(row["languages"]),
        teams=tuple(row["teams"] or ()),
        skills=frozenset(row["skills"]),
        capacity=row["capacity"],
        work_units=dict(row["work_units"] or {}),
        presence=Presence(row["presence"]),
        presence_reason=row["presence_reason"],
        presence_since=row["presence_since"],
        active=row["active"],
        version=row["version"],
        registered=row["registered"],
        load_units=row["load_units"],
        last_assigned_at=row["last_assigned_at"],
    )


def _team(row: RowMapping) -> Team:
    return Team(team_id=row["team_id"], name=row["name"], manager_id=row["manager_id"])


_GET_MANY = _agents().where(
    agents.c.agent_id == func.any(bindparam("ids", type_=ARRAY(agents.c.agent_id.type)))
)
"""Several agents, read by their ids as one array."""

_CANDIDATES = text(
    """
    SELECT a.agent_id, a.name, a.skills, a.capacity, a.work_units, a.load_units, a.presence,
           a.last_assigned_at, a.languages, a.registered,
           (SELECT array_agg(t.team_id ORDER BY t.position) FROM agent_teams AS t
            WHERE t.agent_id = a.agent_id) AS teams
    FROM agents AS a
    WHERE a.active AND a.presence = 'available' AND a.load_units < a.capacity
      AND ((CAST(:public AS boolean) AND a.registered)
           OR a.agent_id IN (SELECT agent_id FROM agent_teams
                             WHERE team_id = ANY(CAST(:teams AS uuid[])))
           OR a.agent_id = ANY(CAST(:owners AS uuid[])))
    """
)
"""Who could take work now in any of several queues: public, team and personal ones."""
