"""Client endpoints: /api/v1/clients/{bot_id}/..."""
import marshmallow as ma
from flask.views import MethodView

from ...writes.imports import ImportResultSchema, import_request_body, run_import
from ..blueprint import BODY_RESPONSES, Blueprint
from ..paths import BOT_ID, RECORD_ID
from ..tracking.schemas import ClientCodePathSchema
from . import service
from .schemas import (
    ClientContactSchema,
    ClientCreateSchema,
    ClientListQuerySchema,
    ClientListSchema,
    ClientSchema,
    ClientUpdateSchema,
)

blp = Blueprint("clients", __name__, url_prefix="/clients", description="The company's customers")


def if_match(client):
    """The write's precondition, checked by the service once it holds the row: If-Match, when sent, matches."""
    blp.check_etag(client, ClientSchema)


@blp.route(f"/{BOT_ID}")
class Clients(MethodView):
    @blp.etag
    @blp.arguments(ClientListQuerySchema, location="query")
    @blp.response(200, ClientListSchema)
    def get(self, query, bot_id):
        """List clients, newest first; or, with updated_since or cursor, the change feed"""
        return service.list_clients(bot_id, **query)

    @blp.arguments(ClientCreateSchema)
    @blp.response(201, ClientSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, fields, bot_id):
        """Create a client; a client code the bot already has is a 409 naming that client"""
        return service.create_client(bot_id, fields)


@blp.route(f"/{BOT_ID}/{RECORD_ID.format('client_id')}")
class ClientById(MethodView):
    @blp.etag
    @blp.response(200, ClientSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, bot_id, client_id):
        """Get one client"""
        return service.get_client(bot_id, client_id)

    @blp.etag
    @blp.arguments(ClientCreateSchema)
    @blp.response(200, ClientSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def put(self, fields, bot_id, client_id):
        """Replace a client: client_code is required and every field left out becomes null"""
        return service.update_client(bot_id, client_id, fields, replace=True, precondition=if_match)

    @blp.etag
    @blp.arguments(ClientUpdateSchema)
    @blp.response(200, ClientSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, changes, bot_id, client_id):
        """Change some of a client's fields (at least one); the others keep their values"""
        return service.update_client(bot_id, client_id, changes, precondition=if_match)

    @blp.etag
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, bot_id, client_id):
        """Delete a client; its tracking numbers stay, and the change feed reports it as deleted"""
        service.delete_client(bot_id, client_id, precondition=if_match)


@blp.route(f"/{BOT_ID}/{RECORD_ID.format('client_id')}/restore")
class ClientRestore(MethodView):
    @blp.response(200, ClientSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(410, response="GONE")
    def post(self, bot_id, client_id):
        """Restore a client deleted within the restore window (30 days by default), with its id"""
        return service.restore_client(bot_id, client_id)


@blp.route(f"/{BOT_ID}/by-code/<string:client_code>")
class ClientByCode(MethodView):
    @blp.arguments(ClientCodePathSchema, location="path", as_kwargs=True, unknown=ma.EXCLUDE)  # bot_id: converter
    @blp.arguments(ClientContactSchema, required=False)  # no body: a client known only by its code
    @blp.response(200, ClientSchema, description="The client existed and now has the body's fields.")
    @blp.alt_response(201, schema=ClientSchema, description="The client was created.", success=True)
    def put(self, fields, bot_id, client_code):
        """Create or replace the client with this code (201 created, 200 replaced); fields left out become null"""
        client, created = service.upsert_client(bot_id, client_code, fields)
        return client, 201 if created else 200


@blp.route(f"/{BOT_ID}/import")
class ClientImport(MethodView):
    @blp.doc(requestBody=import_request_body(ClientCreateSchema, "client_code,name,phone\n"
                                                                 "CLIENT123,Алия Нурланова,+77011234567\n"))
    @blp.response(200, ImportResultSchema)
    @blp.alt_response(413, response=BODY_RESPONSES[413])  # too many rows, or MAX_CONTENT_LENGTH
    @blp.alt_response(415, response=BODY_RESPONSES[415])
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, bot_id):
        """Import clients (JSON array or CSV): each created, updated or unchanged; any error writes none"""
        return run_import(service.client_importer(), bot_id)
