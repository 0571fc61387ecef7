"""/api/admin/v1/audit: every write made through the admin API, newest first."""
from flask.views import MethodView

from ....extensions import db
from ....models import AdminAuditEvent
from ...pagination import count_rows, page_items
from ..blueprint import AdminBlueprint
from .schemas import AuditListSchema, AuditQuerySchema

blp = AdminBlueprint("admin_audit", __name__, url_prefix="/audit", description="The trail of admin writes")


def audit_trail(page, page_size, bot_id=None):
    statement = db.select(AdminAuditEvent)
    if bot_id is not None:
        statement = statement.where(AdminAuditEvent.bot_id == bot_id)
    total = count_rows(statement)
    return {"events": page_items(statement.order_by(AdminAuditEvent.id.desc()), page, page_size, total),
            "total": total}


@blp.route("")
class AuditTrail(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditListSchema)
    def get(self, query):
        """List admin writes, newest first; filter by bot"""
        return audit_trail(**query)
