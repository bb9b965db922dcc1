"""Imports every domain's tables so ``metadata`` is complete (Alembic and tests use it)."""

from alephee.accounts import models as _accounts  # noqa: F401
from alephee.db import Base
from alephee.listings import models as _listings  # noqa: F401
from alephee.marketplaces import models as _marketplaces  # noqa: F401
from alephee.orders import models as _orders  # noqa: F401
from alephee.orders import reservations as _reservations  # noqa: F401
from alephee.portal import models as _portal  # noqa: F401
from alephee.products import models as _products  # noqa: F401
from alephee.shipping import models as _shipping  # noqa: F401
from alephee.webhooks import models as _webhooks  # noqa: F401

metadata = Base.metadata
