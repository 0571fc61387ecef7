"""Who is calling and how much they may do: API keys, the key cache, authentication, rate limits, address blocks,
usage and security events."""
