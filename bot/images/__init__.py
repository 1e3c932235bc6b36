"""Event cards: a PNG per event, language and platform size for events without a cover, drawn with Pillow."""

from bot.images.cards import EVENT_DATA_SIZES, CardContent, CardSize, Style, content_of, draw_card
from bot.images.store import CardStore

__all__ = ["EVENT_DATA_SIZES", "CardContent", "CardSize", "CardStore", "Style", "content_of", "draw_card"]
