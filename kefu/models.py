"""Imports every domain's models so `Base.metadata` (and Alembic) sees all tables."""

from kefu.accounts import models as accounts_models
from kefu.aftersales import models as aftersales_models
from kefu.bot import models as bot_models
from kefu.conversations import models as conversations_models
from kefu.core import audit, mail
from kefu.core.db import Base
from kefu.knowledge import models as knowledge_models
from kefu.orderservice import models as orderservice_models
from kefu.store import models as store_models
from kefu.tickets import models as tickets_models

__all__ = [
    "Base",
    "accounts_models",
    "aftersales_models",
    "audit",
    "bot_models",
    "conversations_models",
    "knowledge_models",
    "mail",
    "orderservice_models",
    "store_models",
    "tickets_models",
]
