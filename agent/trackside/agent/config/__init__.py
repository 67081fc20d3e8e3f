"""The agent's configuration: ``clearml.conf`` (``agent`` and ``api`` sections) plus environment overrides."""
from trackside.agent.config.loader import AgentConfig, ConfigError, load_config

__all__ = ["AgentConfig", "ConfigError", "load_config"]
