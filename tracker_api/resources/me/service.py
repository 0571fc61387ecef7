"""What a key may learn about itself."""
from ...access.rate_limits import key_budget_per_minute
from ...access.scopes import SCOPES


def describe_key(api_key):
    return {"bot_id": api_key.bot_id, "key_id": api_key.id, "prefix": api_key.prefix, "name": api_key.name,
            "kind": api_key.kind, "scopes": list(api_key.scopes or SCOPES),
            "rate_limit_per_minute": key_budget_per_minute(api_key), "expires_at": api_key.expires_at}
