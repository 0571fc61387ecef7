"""The admin API's Blueprint: the public one's body parsing, ETags and dumping, with the admin API's own common
refusals (a platform token's 401, its budget's 429) instead of the key scopes and Idempotency-Key of /api/v1."""
from ..blueprint import BODY_RESPONSES, Blueprint

ADMIN_COMMON_RESPONSES = {401: "UNAUTHORIZED", 404: "NOT_FOUND", 429: "RATE_LIMITED"}


class AdminBlueprint(Blueprint):
    @staticmethod
    def _document_common_responses(doc, doc_info, **kwargs):
        responses = doc.setdefault("responses", {})
        common = {**ADMIN_COMMON_RESPONSES, **(BODY_RESPONSES if "requestBody" in doc else {})}
        for status, response_name in common.items():
            responses.setdefault(status, response_name)
        return doc

    @staticmethod
    def _document_idempotency_key(doc, doc_info, **kwargs):
        return doc  # Idempotency-Key is claimed per bot API key (writes/idempotency.py): not on the admin API

    def _document_required_scope(self, doc, doc_info, **kwargs):
        return doc  # a platform token holds every admin right
