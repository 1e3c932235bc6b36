"""Configuration: settings, campaign and events, read once by the CLI and passed to everything else."""

from bot.config.loader import AppConfig, EventFileCache, EventFiles, load_config, load_event, load_events
from bot.config.settings import Settings

__all__ = ["AppConfig", "EventFileCache", "EventFiles", "Settings", "load_config", "load_event", "load_events"]
