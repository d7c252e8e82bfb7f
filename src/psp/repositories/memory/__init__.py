"""In-memory implementations of every port: fast fakes for service tests, held to the same contract."""

from psp.repositories.memory.queue import InMemoryEventQueue
from psp.repositories.memory.unit_of_work import InMemoryStore, InMemoryUnitOfWork

__all__ = ["InMemoryEventQueue", "InMemoryStore", "InMemoryUnitOfWork"]
