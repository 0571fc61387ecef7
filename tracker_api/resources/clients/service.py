"""Clients: queries scoped to one bot."""
from flask_smorest import abort

from ...extensions import db
from ...models import Client
from ...pagination import paginate


def list_clients(bot_id, page, page_size):
    statement = db.select(Client).where(Client.bot_id == bot_id).order_by(Client.id.desc())
    items, total = paginate(statement, page, page_size)
    return {"clients": items, "total": total}


def get_client(bot_id, client_id):
    client = db.session.scalar(db.select(Client).where(Client.bot_id == bot_id, Client.id == client_id))
    if client is None:
        abort(404, message=f"Client {client_id} does not exist in this bot.")
    return client
