"""Bulk export: every record of a bot streamed as CSV or NDJSON (/api/v1/export/{bot_id}/...)."""
