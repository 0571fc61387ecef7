"""The stack's floor: the least each part of the fixed stack costs, added one at a time on the floor's own page.

`../shared/bench/floor_app.py` measures Flask with raw psycopg. The issue fixes more than that: Flask-SQLAlchemy for
the data, flask-smorest and marshmallow for arguments and answers, Flask-Limiter counting in Redis, and the
security rules (a revoked key refused on the very next request, on every worker) need a shared look at the key on
every request. This app does the floor's work with each of those parts added in turn and nothing of ours, so
that `make bench` can say what the parts cost before the API does anything of its own:

    /<layer>/page/<bot>          the floor's page of 50 rows (newest first, no total)
    /<layer>/item/<bot>/<id>     one of the bot's rows by id (compared with the floor's /hello, as get by id is)

    layer  what it adds to the one before
    sa     Flask-SQLAlchemy: a Core select through db.session instead of a psycopg cursor
    rl     Flask-Limiter: one hit of a fixed window counted in Redis (the storage the API uses), no headers
    key    the key check security needs: the presented key's hash looked up in Redis (one HGET), 401 when unknown
    sm     flask-smorest: query arguments loaded by a marshmallow schema, the answer dumped by one

The first three are what no implementation on this stack can leave out; marshmallow's dump comes last, since an
implementation can dump faster than marshmallow does (the API's compiled dumpers, tracker_api/serialization/dumping.py).

And two floors for writes, in raw psycopg as the floor reads (POST, the body's tracking_number, its own tables:
WRITE_TABLES, which bench/run.py creates and drops):

    /write/free/<bot>      one row inserted and committed: a durable write and nothing else
    /write/ordered/<bot>   the same, numbered by the bot's change counter: the counter row's UPDATE ... RETURNING
                           first, so one bot's writes queue on that row lock until each commits, as the API's do
                           (writes/change_numbers.py: the feed's change numbers follow commit order)

Started by bench/run.py as `gunicorn -c docker/gunicorn.conf.py 'stack_floor_app:create_app()'` (the config file
the others run with), with STACK_FLOOR_DSN and REDIS_URL.
"""
import hashlib
import os
import threading

import psycopg
import redis
from flask import Blueprint as FlaskBlueprint
from flask import Flask, abort, jsonify, request
from flask.views import MethodView
from flask_limiter import Limiter
from flask_smorest import Api, Blueprint
from flask_sqlalchemy import SQLAlchemy
from marshmallow import Schema, fields
from sqlalchemy import Float, bindparam, cast, column, select, table, tuple_

DEFAULT_DSN = "postgresql://postgres@127.0.0.1/floor"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/3"
KEYS_HASH = "stack_floor:keys"  # key hash -> bot id, filled by bench/run.py
PAGE_SIZE = 50

COLUMNS = ("id", "tracking_number", "client_code", "status", "quantity", "weight_kg", "total_cost_usd",
           "created_at", "updated_at")
tracking = table("tracking_numbers", column("bot_id"), *map(column, COLUMNS))
# The floor's SQL: the money columns read as float8, as it does (no Decimal to convert in Python).
ROW_COLUMNS = [cast(tracking.c[name], Float) if name in ("weight_kg", "total_cost_usd") else tracking.c[name]
               for name in COLUMNS]
PAGE = (select(*ROW_COLUMNS)
        .where(tracking.c.bot_id == bindparam("bot"),
               tuple_(tracking.c.bot_id, tracking.c.id) <= tuple_(bindparam("bot"), 9223372036854775807))
        .order_by(tracking.c.bot_id.desc(), tracking.c.id.desc()).limit(PAGE_SIZE))
ITEM = select(*ROW_COLUMNS).where(tracking.c.bot_id == bindparam("bot"), tracking.c.id == bindparam("id"))

db = SQLAlchemy()

WRITE_TABLES = """
CREATE TABLE IF NOT EXISTS stack_floor_counters (bot_id integer PRIMARY KEY, change_seq bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS stack_floor_writes (id bigserial PRIMARY KEY, bot_id integer NOT NULL, change_seq bigint,
                                               tracking_number text NOT NULL,
                                               created_at timestamptz NOT NULL DEFAULT now());
"""
DROP_WRITE_TABLES = "DROP TABLE IF EXISTS stack_floor_counters, stack_floor_writes"


def as_item(row):
    """The floor's own dict of a row (for the layers without a schema)."""
    return dict(id=row[0], tracking_number=row[1], client_code=row[2], current_status=row[3], quantity=row[4],
                weight_kg=row[5], total_cost_usd=row[6], created_at=row[7].isoformat(),
                updated_at=row[8].isoformat())


class ItemSchema(Schema):
    id = fields.Integer()
    tracking_number = fields.String()
    client_code = fields.String()
    current_status = fields.String(attribute="status")
    quantity = fields.Integer()
    weight_kg = fields.Float()
    total_cost_usd = fields.Float()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PageSchema(Schema):
    tracking_numbers = fields.List(fields.Nested(ItemSchema))
    total = fields.Integer(allow_none=True)


class PageArgs(Schema):
    page = fields.Integer(load_default=1)
    page_size = fields.Integer(load_default=PAGE_SIZE)


def read_page(bot_id):
    return db.session.execute(PAGE, {"bot": bot_id}).all()


def read_item(bot_id, item_id):
    row = db.session.execute(ITEM, {"bot": bot_id, "id": item_id}).first()
    if row is None:
        abort(404)
    return row


def plain_blueprint(name):
    """The page and the item as plain Flask views, the floor's dict of a row encoded by jsonify."""
    blueprint = FlaskBlueprint(name, __name__, url_prefix=f"/{name}")

    @blueprint.get("/page/<int:bot_id>")
    def page(bot_id):
        return jsonify(tracking_numbers=[as_item(row) for row in read_page(bot_id)], total=None)

    @blueprint.get("/item/<int:bot_id>/<int:item_id>")
    def item(bot_id, item_id):
        return jsonify(as_item(read_item(bot_id, item_id)))

    return blueprint


def smorest_blueprint(name):
    """The page and the item views under flask-smorest: arguments and answers through marshmallow schemas."""
    blueprint = Blueprint(name, __name__, url_prefix=f"/{name}")

    @blueprint.route("/page/<int:bot_id>")
    class Page(MethodView):
        @blueprint.arguments(PageArgs, location="query")
        @blueprint.response(200, PageSchema)
        def get(self, args, bot_id):
            return {"tracking_numbers": read_page(bot_id), "total": None}

    @blueprint.route("/item/<int:bot_id>/<int:item_id>")
    class Item(MethodView):
        @blueprint.response(200, ItemSchema)
        def get(self, bot_id, item_id):
            return read_item(bot_id, item_id)

    return blueprint


def limited(blueprint, limiter, check_key=None):
    """The blueprint counted by Flask-Limiter (and its key checked first, when `check_key` is given)."""
    if check_key is not None:
        blueprint.before_request(check_key)
    limiter.limit("1000000/minute")(blueprint)
    return blueprint


def create_app(dsn=None, redis_url=None):
    """The app; without arguments, STACK_FLOOR_DSN and REDIS_URL from the environment (as gunicorn starts it)."""
    dsn = dsn or os.environ.get("STACK_FLOOR_DSN", DEFAULT_DSN)
    redis_url = redis_url or os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=dsn.replace("postgresql://", "postgresql+psycopg://", 1),
        SQLALCHEMY_ENGINE_OPTIONS={"isolation_level": "AUTOCOMMIT"},  # as the floor's connection
        API_TITLE="stack floor", API_VERSION="1", OPENAPI_VERSION="3.0.3",
        # The hit alone: Flask-Limiter's headers would read the window back in a second round trip (the API's
        # access/rate_limits.py CountingFixedWindow sends its headers from the hit's own count instead).
        RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_STRATEGY="fixed-window", RATELIMIT_HEADERS_ENABLED=False)
    db.init_app(app)
    limiter = Limiter(key_func=presented_key_hash, app=app, default_limits=[])
    keys = redis.Redis.from_url(redis_url)

    def check_key():
        if keys.hget(KEYS_HASH, presented_key_hash()) is None:
            return jsonify(detail="invalid key"), 401

    @app.get("/hello")
    def hello():
        return {"ok": True}

    connections = threading.local()  # a transaction is one thread's: no connection shared between threads

    def write_connection():
        if getattr(connections, "conn", None) is None:
            connections.conn = psycopg.connect(dsn, autocommit=True)
        return connections.conn

    def insert(conn, bot_id, change_seq):
        number = (request.get_json(silent=True) or {}).get("tracking_number", "")
        row = conn.execute("INSERT INTO stack_floor_writes (bot_id, change_seq, tracking_number) VALUES (%s, %s, %s)"
                           " RETURNING id, created_at", (bot_id, change_seq, number)).fetchone()
        return {"id": row[0], "tracking_number": number, "change_seq": change_seq, "created_at": row[1].isoformat()}

    @app.post("/write/free/<int:bot_id>")
    def free_write(bot_id):
        conn = write_connection()
        with conn.transaction():
            answer = insert(conn, bot_id, None)
        return answer, 201

    @app.post("/write/ordered/<int:bot_id>")
    def ordered_write(bot_id):
        conn = write_connection()
        with conn.transaction():
            change_seq = conn.execute("UPDATE stack_floor_counters SET change_seq = change_seq + 1 WHERE bot_id = %s"
                                      " RETURNING change_seq", (bot_id,)).fetchone()[0]
            answer = insert(conn, bot_id, change_seq)
        return answer, 201

    app.register_blueprint(plain_blueprint("sa"))
    app.register_blueprint(limited(plain_blueprint("rl"), limiter))
    app.register_blueprint(limited(plain_blueprint("key"), limiter, check_key))
    Api(app).register_blueprint(limited(smorest_blueprint("sm"), limiter, check_key))
    return app


def key_hash(plain_key):
    return hashlib.sha256(plain_key.encode()).hexdigest()


def presented_key_hash():
    """Whose budget a request spends, and what the key layer looks up: never the plain key."""
    return key_hash(request.headers.get("X-API-Key", ""))


def create_write_tables(dsn, bot_ids):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(DROP_WRITE_TABLES)
        conn.execute(WRITE_TABLES)
        for bot_id in bot_ids:
            conn.execute("INSERT INTO stack_floor_counters (bot_id) VALUES (%s)", (bot_id,))


def drop_write_tables(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(DROP_WRITE_TABLES)


def register_key(plain_key, bot_id, redis_url):
    """A key the key layer accepts (bench/run.py registers the big bot's before the runs)."""
    redis.Redis.from_url(redis_url).hset(KEYS_HASH, key_hash(plain_key), bot_id)

