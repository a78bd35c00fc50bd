"""A three-node Apache Kafka cluster on loopback, for fault tests: replication factor 3,
``min.insync.replicas`` 2, so a write acknowledged with acks=all survives the loss of any node.

Every node is a combined broker/controller (a three-voter KRaft quorum), each with its own folder
under ``data_dir`` and the same cluster id. ``kill(node_id)`` is a crash (SIGKILL of the node's
process group), ``restart(node_id)`` brings it back on the same ports and storage.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from app.worker.kafka.broker import BrokerError, free_port
from app.worker.kafka.kafka_broker import EmbeddedKafka, new_cluster_id

REPLICATED_CONFIG = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "2",
    "unclean.leader.election.enable": "false",
}


class ClusterNode(EmbeddedKafka):
    """One node of :class:`KafkaCluster`: fixed id, ports, voters and cluster id."""

    def __init__(
        self,
        data_dir: Path,
        node_id: int,
        port: int,
        controller_port: int,
        voters: str,
        cluster_id: str,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(data_dir, port, host, extra_config=REPLICATED_CONFIG)
        self.node_id = node_id
        self.fixed_controller_port = controller_port
        self.voters = voters
        self.cluster_id = cluster_id

    def _node(self) -> dict[str, object]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            "cluster_id": self.cluster_id,
            "port": self.preferred_port,
            "controller_port": self.fixed_controller_port,
        }

    def server_properties(self, cluster_id: str) -> dict[str, str]:
        config = super().server_properties(cluster_id)
        config["node.id"] = str(self.node_id)
        config["controller.quorum.voters"] = self.voters
        return config


class KafkaCluster:
    """``size`` nodes started together (a quorum forms only once a majority runs)."""

    def __init__(self, data_dir: Path, size: int = 3, host: str = "127.0.0.1") -> None:
        ports = [(free_port(host), free_port(host)) for _ in range(size)]
        while len({p for pair in ports for p in pair}) < 2 * size:  # all distinct
            ports = [(free_port(host), free_port(host)) for _ in range(size)]
        voters = ",".join(f"{i + 1}@{host}:{c}" for i, (_, c) in enumerate(ports))
        cluster_id = new_cluster_id()
        self.nodes = {
            i + 1: ClusterNode(
                Path(data_dir) / f"node-{i + 1}", i + 1, port, controller, voters, cluster_id, host
            )
            for i, (port, controller) in enumerate(ports)
        }

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes.values())

    def node_on_port(self, port: int) -> int:
        return next(i for i, node in self.nodes.items() if node.port == port)

    def start(self, timeout: float = 120.0) -> KafkaCluster:
        """Launch every node, then wait for each (no node answers before a quorum forms)."""
        try:
            for node in self.nodes.values():
                node.launch()
            for node in self.nodes.values():
                node.await_ready(timeout)
        except BrokerError as exc:
            self.stop()
            raise BrokerError(f"the Kafka cluster did not start: {exc}") from None
        return self

    def kill(self, node_id: int) -> None:
        """SIGKILL one node, as a crash would."""
        self.nodes[node_id].kill()

    def restart(self, node_id: int, timeout: float = 120.0) -> None:
        self.nodes[node_id].start(timeout)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
