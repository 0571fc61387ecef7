"""The data model; importing this package registers every table with the metadata."""
from .api_key import ApiKey
from .bot import SUBSCRIPTION_STATUSES, Bot
from .client import Client
from .tracking import STATUSES, StatusEvent, TrackingNumber

__all__ = ["ApiKey", "Bot", "Client", "StatusEvent", "TrackingNumber", "STATUSES", "SUBSCRIPTION_STATUSES"]
