"""The tuning knobs of a distributed runtime (documented on DistributedAgentRuntime)."""

from __future__ import annotations

from dataclasses import dataclass

from agent_runner.errors import ConfigurationError


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    prefix: str = "agent-runner"
    partitions: int = 16
    rpc_timeout: float | None = 60.0
    max_payload_bytes: int = 1 << 20
    heartbeat_interval: float = 1.0
    heartbeat_ttl: float = 5.0
    claim_min_idle: float = 1.0
    read_count: int = 512
    block: float = 2.0
    max_inflight: int = 8192
    shutdown_grace: float = 10.0
    retry_for: float = 30.0

    def __post_init__(self) -> None:
        if not self.prefix or any(c in self.prefix for c in " \n{}"):
            raise ConfigurationError(f"prefix must be a non-empty key prefix: {self.prefix!r}")
        if not 1 <= self.partitions <= 4096:
            raise ConfigurationError("partitions must be between 1 and 4096")
        if self.heartbeat_interval <= 0 or self.heartbeat_ttl <= self.heartbeat_interval:
            raise ConfigurationError("heartbeat_ttl must be longer than heartbeat_interval > 0")
        if self.rpc_timeout is not None and self.rpc_timeout <= 0:
            raise ConfigurationError("rpc_timeout must be positive (or None)")
        if self.max_payload_bytes <= 0 or self.read_count <= 0 or self.max_inflight <= 0:
            raise ConfigurationError("max_payload_bytes, read_count, max_inflight must be > 0")

    @property
    def ttl_ms(self) -> int:
        return int(self.heartbeat_ttl * 1000)

    @property
    def block_ms(self) -> int:
        return max(1, int(self.block * 1000))
