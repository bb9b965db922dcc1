"""What the composition roots assemble from the domains: every table (``metadata``, for Alembic and tests)
and the outbox worker with every sender (``build_worker``, for ``create_app(with_worker=True)`` and the CLI)."""

from alephee.accounts import models as _accounts  # noqa: F401
from alephee.channels import models as _channels  # noqa: F401
from alephee.channels import post_sale as _post_sale  # noqa: F401  (registers the question.answer topic)
from alephee.channels.backstop import ConnectionGate
from alephee.config import Settings
from alephee.console import models as _console  # noqa: F401
from alephee.db import Base, Database
from alephee.listings import models as _listings  # noqa: F401
from alephee.marketplaces import models as _marketplaces  # noqa: F401
from alephee.orders import models as _orders  # noqa: F401
from alephee.orders import reservations as _reservations  # noqa: F401
from alephee.portal import models as _portal  # noqa: F401
from alephee.products import models as _products  # noqa: F401
from alephee.shipping import models as _shipping  # noqa: F401
from alephee.sync.worker import Dispatcher, Worker
from alephee.webhooks import models as _webhooks  # noqa: F401
from alephee.webhooks import sender as webhook_sender

metadata = Base.metadata


def build_worker(db: Database, settings: Settings, *, purge: bool = True) -> Worker:
    """The outbox worker with every sender of the hub: the marketplace channels (the default sender) and the
    webhook poster for ``webhook.*`` rows, its pull step passing over disconnected channel connections; ``purge``
    also makes sure the notification feed purge is queued."""
    routes = [webhook_sender.route(settings, db if purge else None)]
    return Worker(db, settings, dispatcher=Dispatcher(routes=routes), gate=ConnectionGate(db))
