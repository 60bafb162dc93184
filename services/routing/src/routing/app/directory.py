"""The agent directory's use cases: register and change agents, their presence, and teams.

Every change to an agent is published whole on ``routing.agent.v1`` with a version one
higher, so intake can address notifications and map extensions, and the SLA service can find
managers. An agent whose presence becomes available, or who now has room, is offered the work
waiting in their queues.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from routing.app.assignment import offer_agent
from routing.app.errors import (
    AgentExistsError,
    AgentNotFound,
    ExtensionTakenError,
    NameTakenError,
    NotPermittedError,
    TeamNotFound,
    UnknownTeamError,
    VersionConflictError,
)
from routing.app.ports import AgentEntry, RoutingUnitOfWork, Team
from routing.domain import Presence, RoutingValidationError, normalize_skills

T = TypeVar("T")

PRESENCE_SET = "set"
"""A person set the presence."""
PRESENCE_CALL = "call"
"""The agent is on a call."""
PRESENCE_FREED = "freed"
"""The call that made the agent busy ended."""

WORK_TYPES = ("case", "call")
"""The kinds of work an agent's units name; a case's may name its channel (``case:email``)."""


@dataclass(frozen=True, kw_only=True)
class Who:
    """The person asking: their agent id, and whether they supervise."""

    agent_id: UUID
    supervises: bool = False


async def register_agent(entry: AgentEntry, *, uow: RoutingUnitOfWork, now: datetime) -> AgentEntry:
    """File an agent in the directory under the identity subject of their token."""
    entry = _checked(entry)
    async with uow:
        found = await uow.agents.entry(entry.agent_id, for_update=True)
        if found is not None and found.registered:
            raise AgentExistsError(f"agent {entry.agent_id} is in the directory already")
        await _check_refs(uow, entry)
        entry = dataclasses.replace(
            entry,
            version=1,
            presence_since=now,
            load_units=found.load_units if found else 0,
        )
        await uow.agents.save_entry(entry)
        uow.publish_agent(entry, at=now, kind="registered", manager_id=await _manager(uow, entry))
        if entry.presence is Presence.AVAILABLE:
            await offer_agent(uow, entry.agent_id, now=now)
        await uow.commit()
    return entry


async def change_agent(
    agent_id: UUID,
    changes: Mapping[str, Any],
    *,
    uow: RoutingUnitOfWork,
    now: datetime,
    expected_version: int | None = None,
) -> AgentEntry:
    """Change an agent's entry (`changes` names `AgentEntry` fields), optionally only if it
    is still at `expected_version`."""
    async with uow:
        current = await _entry(uow, agent_id)
        if expected_version is not None and expected_version != current.version:
            raise VersionConflictError(
                f"agent {agent_id} is at version {current.version}, not {expected_version}"
            )
        entry = _checked(dataclasses.replace(current, **changes, version=current.version + 1))
        await _check_refs(uow, entry)
        if entry.presence is not current.presence:
            entry = dataclasses.replace(entry, presence_reason=PRESENCE_SET, presence_since=now)
        await uow.agents.save_entry(entry)
        uow.publish_agent(entry, at=now, kind="changed", manager_id=await _manager(uow, entry))
        await offer_agent(uow, agent_id, now=now)  # more room, new skills: work may fit
        await uow.commit()
    return entry


async def set_presence(
    agent_id: UUID,
    presence: Presence,
    *,
    by: Who,
    uow: RoutingUnitOfWork,
    now: datetime,
) -> AgentEntry:
    """Set an agent's presence: their own, or anyone's for a supervisor."""
    if by.agent_id != agent_id and not by.supervises:
        raise NotPermittedError("only a supervisor may set another agent's presence")
    async with uow:
        entry = await _entry(uow, agent_id)
        entry = await _change_presence(uow, entry, presence, reason=PRESENCE_SET, now=now)
        await uow.commit()
    return entry


async def on_call(
    extension: str, *, busy: bool, uow: RoutingUnitOfWork, now: datetime
) -> AgentEntry | None:
    """A call was answered at an extension (`busy`), or ended there: the agent sitting there
    is busy while on it, and available again after if the call made them busy."""
    async with uow:
        found = await uow.agents.by_extension(extension)
        if found is None:
            return None
        entry = await _entry(uow, found.agent_id)
        if busy and entry.presence is Presence.AVAILABLE:
            entry = await _change_presence(uow, entry, Presence.BUSY, reason=PRESENCE_CALL, now=now)
        elif (
            not busy and entry.presence is Presence.BUSY and entry.presence_reason == PRESENCE_CALL
        ):
            entry = await _change_presence(
                uow, entry, Presence.AVAILABLE, reason=PRESENCE_FREED, now=now
            )
        await uow.commit()
    return entry


async def create_team(
    name: str,
    manager_id: UUID | None,
    *,
    uow: RoutingUnitOfWork,
    new_id: Any = uuid4,
) -> Team:
    """Add a team under a name no other team has."""
    team = Team(team_id=new_id(), name=_name(name), manager_id=manager_id)
    async with uow:
        if await uow.teams.find_by_name(team.name) is not None:
            raise NameTakenError(f"a team named {team.name!r} exists already")
        await uow.teams.save(team)
        await uow.commit()
    return team


async def change_team(
    team_id: UUID, changes: Mapping[str, Any], *, uow: RoutingUnitOfWork, now: datetime
) -> Team:
    """Rename a team or give it another manager; its members' entries are published again,
    since their manager follows the team's."""
    async with uow:
        current = await uow.teams.get(team_id)
        if current is None:
            raise TeamNotFound(f"there is no team {team_id}")
        team = dataclasses.replace(current, **changes)
        team = dataclasses.replace(team, name=_name(team.name))
        other = await uow.teams.find_by_name(team.name)
        if other is not None and other.team_id != team_id:
            raise NameTakenError(f"a team named {team.name!r} exists already")
        await uow.teams.save(team)
        if team.manager_id != current.manager_id:
            for member in await uow.teams.member_ids(team_id):
                entry = await _entry(uow, member)
                entry = dataclasses.replace(entry, version=entry.version + 1)
                await uow.agents.save_entry(entry)
                uow.publish_agent(
                    entry, at=now, kind="changed", manager_id=await _manager(uow, entry)
                )
        await uow.commit()
    return team


async def _change_presence(
    uow: RoutingUnitOfWork,
    entry: AgentEntry,
    presence: Presence,
    *,
    reason: str,
    now: datetime,
) -> AgentEntry:
    if presence is entry.presence and reason == entry.presence_reason:
        return entry
    previous = entry.presence
    entry = dataclasses.replace(
        entry,
        presence=presence,
        presence_reason=reason,
        presence_since=now,
        version=entry.version + 1,
    )
    await uow.agents.save_entry(entry)
    uow.publish_agent(
        entry,
        at=now,
        kind="presence_changed",
        manager_id=await _manager(uow, entry),
        previous_presence=previous.value,
        reason=reason,
    )
    if presence is Presence.AVAILABLE:
        await offer_agent(uow, entry.agent_id, now=now)
    return entry


async def _entry(uow: RoutingUnitOfWork, agent_id: UUID) -> AgentEntry:
    entry = await uow.agents.entry(agent_id, for_update=True)
    if entry is None or not entry.registered:
        raise AgentNotFound(f"there is no agent {agent_id} in the directory")
    return entry


async def _manager(uow: RoutingUnitOfWork, entry: AgentEntry) -> UUID | None:
    """The agent's manager: their own if set, else their first team's that has one."""
    if entry.manager_id is not None:
        return entry.manager_id
    managers = [m for m in await uow.teams.managers(entry.teams) if m != entry.agent_id]
    return managers[0] if managers else None


async def _check_refs(uow: RoutingUnitOfWork, entry: AgentEntry) -> None:
    if missing := await uow.teams.missing(entry.teams):
        raise UnknownTeamError(f"there is no team {', '.join(sorted(map(str, missing)))}")
    extension = entry.phone_extension
    if extension and await uow.agents.extension_taken(extension, by_other_than=entry.agent_id):
        raise ExtensionTakenError(f"another agent sits at extension {extension}")


def _checked(entry: AgentEntry) -> AgentEntry:
    """The entry with its texts trimmed and its skills and units checked."""
    units: dict[str, int] = {}
    for work_type, n in entry.work_units.items():
        key = work_type.strip().casefold()
        if key.partition(":")[0] not in WORK_TYPES:
            raise RoutingValidationError(
                f"unknown work type {work_type!r}: use case, case:<channel> or call"
            )
        if not 0 <= n <= entry.capacity:
            raise RoutingValidationError(
                f"work type {work_type!r} takes {n} units; it must be 0 to the capacity "
                f"({entry.capacity})"
            )
        units[key] = n
    extension = (entry.phone_extension or "").strip() or None
    return dataclasses.replace(
        entry,
        name=_name(entry.name),
        email=(entry.email or "").strip() or None,
        phone_extension=extension,
        languages=_unique(lang.strip().casefold() for lang in entry.languages if lang.strip()),
        teams=_unique(entry.teams),
        skills=normalize_skills(entry.skills),
        work_units=units,
    )


def _name(name: str) -> str:
    text = name.strip()
    if not text:
        raise RoutingValidationError("a name must not be blank")
    return text


def _unique(values: Iterable[T]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(values))
