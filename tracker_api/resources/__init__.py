"""The API's resources, one blueprint each, registered under a version prefix."""
from .bots.routes import blp as bots_blp
from .clients.routes import blp as clients_blp
from .export.routes import blp as export_blp
from .me.routes import blp as me_blp
from .statistics.routes import blp as statistics_blp
from .tracking.routes import blp as tracking_blp
from .webhooks.routes import blp as webhooks_blp
from .webhooks.service import register_event_shapes
from .widget.routes import blp as widget_blp

V1_PREFIX = "/api/v1"
V1_BLUEPRINTS = (tracking_blp, clients_blp, statistics_blp, bots_blp, export_blp, webhooks_blp, widget_blp,
                 me_blp)


def register_blueprints(api):
    """A v2 would register its own blueprints under /api/v2 beside these; v1 stays as it is."""
    for blp in V1_BLUEPRINTS:
        api.register_blueprint(blp, url_prefix=V1_PREFIX + blp.url_prefix)
    register_event_shapes()  # webhook events show records as v1 does
