"""Chat models (text, and vision-language) behind one seam, chosen by an id that names their source (see `base`)."""

from cultureclip.backends.chat.base import ChatModel, create_chat_model, parse_chat_model_id

__all__ = ["ChatModel", "create_chat_model", "parse_chat_model_id"]
