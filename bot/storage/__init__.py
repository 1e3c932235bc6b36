"""Storage: the schema, its migrations, and the repository the rest of the bot uses."""

from bot.storage.claims import Claims
from bot.storage.database import open_database
from bot.storage.events import EventMark, Store, SyncResult

__all__ = ["Claims", "EventMark", "Store", "SyncResult", "open_database"]
