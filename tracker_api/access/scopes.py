"""Key scopes: what a key may do. One place decides which scope an operation needs, from its HTTP method and, for
the webhook endpoints, its blueprint; the auth hook checks it and the OpenAPI document shows it.

A key's scopes are stored as a space-separated list (models/api_key.py); NULL means every right, so keys made before
scopes existed, and keys made without any, keep working as they did.
"""
SCOPES = ("read", "write", "delete", "webhooks")
SCOPE_DESCRIPTIONS = {
    "read": "read records (GET)",
    "write": "create, update and import records",
    "delete": "delete records",
    "webhooks": "manage the bot's webhook endpoints",
}
WEBHOOKS_BLUEPRINT = "webhooks"
# A key may always ask who it is (GET /api/v1/me), whatever its scopes: that is how it checks them.
UNSCOPED_BLUEPRINTS = frozenset({"me"})
METHOD_SCOPES = {"GET": "read", "HEAD": "read", "POST": "write", "PUT": "write", "PATCH": "write",
                 "DELETE": "delete"}


def required_scope(method, blueprint):
    """The scope an operation needs, or None for one every key may call."""
    if blueprint in UNSCOPED_BLUEPRINTS:
        return None
    if blueprint == WEBHOOKS_BLUEPRINT:
        return "webhooks"
    return METHOD_SCOPES.get(method.upper(), "write")


def parse_scopes(scopes):
    """A collection of scope names -> the stored text (None for every right); ValueError naming an unknown one."""
    if scopes is None:
        return None
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {', '.join(unknown)}: choose from {', '.join(SCOPES)}")
    if not scopes:
        raise ValueError("give at least one scope, or none at all for every right")
    return " ".join(scope for scope in SCOPES if scope in scopes)


def scopes_of(stored):
    """The stored text -> a tuple of scope names, or None for every right."""
    return None if stored is None else tuple(stored.split())


def allows(key_scopes, scope):
    return scope is None or key_scopes is None or scope in key_scopes
