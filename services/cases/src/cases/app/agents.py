"""Who the caller is, as the cases service names agents."""

from __future__ import annotations

from uuid import UUID, uuid5

# Turns a person's token subject into a stable agent id when the subject is not a UUID.
# Routing derives agent ids with the same rule and the same namespace
# (`routing.app.handlers.agent_id_of`): services may not import each other, and both must
# name the same person with the same id, so keep the two in step.
AGENT_NAMESPACE = UUID("8f6b3c1e-2a47-5d0e-9c3b-6e1f4a2d7b90")


def agent_id_of(subject: str) -> UUID:
    """The agent id of a signed-in person: their subject if it is a UUID, else derived from it."""
    try:
        return UUID(subject)
    except ValueError:
        return uuid5(AGENT_NAMESPACE, subject)
