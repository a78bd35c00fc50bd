"""The operator's writes: configurations and silences, each written to its compacted topic and
read back by this worker's view before the request returns, and every change recorded on the
audit topic (when, by which key id, what)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import orjson
from aiokafka.errors import KafkaError

from api.engine import EngineUnavailable, InvalidInput
from app.worker.settings import Settings
from app.worker.views import ConfigStore, SilenceStore, TopicView
from incidents.incident import iso_time
from incidents.silence_matchers import SilenceError
from incidents.silences import Silence

log = logging.getLogger(__name__)


class AdminWrites:
    """Writes configurations and silences through their topics and audits them."""

    def __init__(
        self,
        settings: Settings,
        *,
        configs: ConfigStore,
        config_topic: Any,
        config_view: TopicView,
        silences: SilenceStore,
        silences_topic: Any,
        silence_view: TopicView,
        audit_topic: Any,
    ) -> None:
        self.settings = settings
        self.configs = configs
        self.config_topic = config_topic
        self.config_view = config_view
        self.silences = silences
        self.silences_topic = silences_topic
        self.silence_view = silence_view
        self.audit_topic = audit_topic

    async def apply_configs(
        self, configs: list[dict[str, Any]], actor: str | None = None
    ) -> list[dict[str, Any]]:
        stored = []
        for config in configs:
            previous = self.configs.get(config["model_id"])
            document = {**config, "updated_at": iso_time(time.time())}
            await self.write_and_read_back(
                self.config_topic, self.config_view, config["model_id"], orjson.dumps(document)
            )
            await self.audit(
                "config.apply",
                actor,
                model_id=config["model_id"],
                old_version=previous["model_version"] if previous else None,
                new_version=config["model_version"],
            )
            stored.append(document)
        log.info("applied configuration for %s", ", ".join(c["model_id"] for c in configs))
        return stored

    async def create_silence(
        self, silence: dict[str, Any], actor: str | None = None
    ) -> dict[str, Any]:
        data = {k: v for k, v in silence.items() if v is not None}
        data["id"] = "sil-" + uuid.uuid4().hex[:16]
        data.setdefault("starts_at", time.time())
        try:
            parsed = Silence.from_dict(data)
        except SilenceError as exc:
            raise InvalidInput(str(exc), field=exc.field) from None
        document = parsed.to_dict()
        await self.write_and_read_back(
            self.silences_topic, self.silence_view, parsed.id, orjson.dumps(document)
        )
        await self.audit("silence.create", actor, silence_id=parsed.id)
        return self._silence_out(parsed)

    def _silence_out(self, silence: Silence) -> dict[str, Any]:
        return {**silence.to_dict(), "active": silence.active(time.time())}

    def list_silences(self) -> list[dict[str, Any]]:
        return [self._silence_out(s) for s in self.silences.all()]

    async def delete_silence(self, silence_id: str, actor: str | None = None) -> bool:
        if self.silences.get(silence_id) is None:
            return False
        await self.write_and_read_back(self.silences_topic, self.silence_view, silence_id, None)
        await self.audit("silence.delete", actor, silence_id=silence_id)
        return True

    async def audit(self, action: str, actor: str | None, **fields: Any) -> None:
        """Record a change on the audit topic: when, by which key id, what."""
        record = {
            "schema": "anomaly.audit/v1",
            "at": iso_time(time.time()),
            "action": action,
            "actor": actor or "internal",
            **fields,
        }
        key = str(fields.get("model_id") or fields.get("silence_id") or "").encode()
        try:
            pending = await self.audit_topic.send(key=key, value=orjson.dumps(record))
            await asyncio.wait_for(pending, self.settings.request_timeout_s)
        except (TimeoutError, KafkaError):
            log.error("audit record not confirmed by the broker: %s", record)
            return
        log.info("audit: %s by %s %s", action, record["actor"], fields)

    async def write_and_read_back(
        self, topic: Any, view: TopicView, key: str, value: bytes | None
    ) -> None:
        """Write a record and wait until this worker's view of the topic has read it."""
        timeout = self.settings.request_timeout_s
        try:
            pending = await topic.send(key=key.encode(), value=value)
            metadata = await asyncio.wait_for(pending, timeout)
        except (TimeoutError, KafkaError) as exc:
            raise EngineUnavailable(f"the broker did not take the write: {exc}") from exc
        try:
            await view.wait_for(metadata.partition, metadata.offset, timeout)
        except TimeoutError as exc:
            raise EngineUnavailable("written, but this worker has not read it back yet") from exc
