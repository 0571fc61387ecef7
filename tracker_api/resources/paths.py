"""Path segments shared by every resource: ids are positive 64-bit integers, so an absurd id is a 404."""
MAX_ID = 2**63 - 1
BOT_ID = f"<int(min=1, max={2**31 - 1}):bot_id>"
RECORD_ID = "<int(min=1, max=" + str(MAX_ID) + "):{}>"
