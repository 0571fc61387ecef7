"""Path segments shared by every resource: ids are positive 64-bit integers, so an absurd id is a 404."""
MAX_ID = 2**63 - 1
BOT_ID = f"<int(min=1, max={2**31 - 1}):bot_id>"
RECORD_ID = "<int(min=1, max=" + str(MAX_ID) + "):{}>"
# The values the reference's code samples (web/code_samples.py) put in a path: the demo bot and records that
# match the schemas' examples (TrackingNumber 1 is ABC123456, Client 7 is CLIENT123, Webhook 3, Delivery 42).
PATH_EXAMPLES = {"bot_id": 123, "tracking_id": 1, "client_id": 7, "webhook_id": 3, "delivery_id": 42,
                 "client_code": "CLIENT123", "tracking_number": "ABC123456"}
