"""Server configuration, loaded the way ClearML documents it (see :mod:`.loader`)."""
from trackside.shared.config.loader import ConfigError, load_config

__all__ = ["ConfigError", "load_config"]
