"""LangGraph's ``PostgresSaver`` whose lost connections are said as sentences.

The checkpointer is read and written outside our own statements (``get_state`` when a surface asks what waits,
``put`` after every step), so a database that went away would reach a person as a driver's exception. Each of
the saver's public methods here turns that into :class:`~vitron_agent.storage.StorageUnavailable`, as the
decision log and the artifact index do; everything else is LangGraph's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langgraph.checkpoint.postgres import PostgresSaver

__all__ = ["SaidPostgresSaver"]


class SaidPostgresSaver(PostgresSaver):
    """A ``PostgresSaver`` on the workspace's pool; ``said`` is the database's error-to-sentence context."""

    def __init__(self, pool: Any, said: Any) -> None:
        super().__init__(pool)
        self._said = said

    def get_tuple(self, config: Any) -> Any:
        with self._said():
            return super().get_tuple(config)

    def list(self, config: Any, **options: Any) -> Iterator[Any]:
        with self._said():
            yield from super().list(config, **options)

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        with self._said():
            return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
        with self._said():
            super().put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        with self._said():
            super().delete_thread(thread_id)
