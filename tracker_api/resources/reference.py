"""The v1 reference's own words (the introduction at the top of /api/openapi.json, ReDoc and Swagger UI) and
its code samples in curl, JavaScript, Python and PHP for every operation."""
from ..web.code_samples import register_code_samples
from .paths import PATH_EXAMPLES

GUIDE = "docs/API_INTEGRATION_GUIDE.md"
INTRODUCTION = f"""\
The REST API of the cargo-tracking bot platform: tracking numbers, clients, statistics, exports, imports and
webhooks of one bot (company). Every operation has samples in curl, JavaScript (an ES module: `node sample.mjs`
with Node 18+), Python and PHP; replace `https://your-api-domain.com` and `tb_your_api_key_here` with your server
and key, and the ids in the path with yours. The integration guide
(`{GUIDE}` in the repository; in Russian: `docs/ru/`) explains each topic in full. Postman and Insomnia
import this document (`/api/openapi.json`) directly.

**Authentication.** Send the bot's API key in the `X-API-Key` header (never in the URL). A key reaches its own
bot only: another bot's id is a `403`, a missing, unknown or revoked key a `401`. Keep keys on your servers;
only the tracking widget's publishable keys (`tb_pk_...`) belong in web pages.

**Errors.** Every error is `application/problem+json` (RFC 9457): `type` (branch on it), `title`, `status`,
`detail` (a sentence to show or log), `request_id` (quote it when asking for help) and, on a `422`, `errors`
with the messages for each field.

**Limits.** Each key has a budget of requests per minute (60 unless the operator set another), reported in
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` on every answer; past it the answer is a
`429` with `Retry-After` in seconds. Request bodies may be at most 1 MiB.

**Pagination.** Lists take `page` (from 1) and `page_size` (1-100, default 50), come newest first and carry
`total`: read until you have `total` items or a page comes back empty.

**Change feed.** To keep a copy in step, ask the tracking numbers or clients list with `updated_since` (an ISO
8601 time; `1970-01-01T00:00:00Z` for everything) and then with each answer's `next_cursor` until `has_more` is
false: it lists what was created or changed (oldest change first) and, in `deleted`, what was deleted. Keep the
last `next_cursor` for the next sync. Webhooks push the same changes as they happen.
"""


def register_reference(api):
    """Before the blueprints: the samples are made as each operation is documented."""
    api.spec.options.setdefault("info", {})["description"] = INTRODUCTION
    register_code_samples(api, PATH_EXAMPLES)
