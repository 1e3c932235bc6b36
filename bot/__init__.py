"""announce-bot: announces public events on Telegram, VK, X and Dzen from one description, on time."""

__version__ = "0.1.0"
