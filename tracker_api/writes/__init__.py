"""What a write leaves behind, in the write's own transaction: the bot's change numbers (commit order), the kept
totals, the change feed that reads them, bulk imports, and Idempotency-Key records."""
