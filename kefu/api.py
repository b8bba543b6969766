"""The JSON API under /api/v1: every domain's router."""

from fastapi import APIRouter

from kefu.accounts.api import router as accounts_router
from kefu.aftersales.api import router as aftersales_router
from kefu.bot.api import router as bot_router
from kefu.bot.rating_api import router as bot_rating_router
from kefu.channels.api import router as channels_router
from kefu.channels.csat_api import router as csat_router
from kefu.channels.media_api import router as widget_media_router
from kefu.conversations.api import router as conversations_router
from kefu.conversations.media_api import router as conversation_media_router
from kefu.knowledge.api import router as knowledge_router
from kefu.knowledge.canned_api import router as canned_router
from kefu.orderservice.api import router as orderservice_router
from kefu.store.api import router as store_router
from kefu.tickets.api import router as tickets_router

router = APIRouter(prefix="/api/v1")
router.include_router(accounts_router)
router.include_router(store_router)
router.include_router(orderservice_router)
router.include_router(conversations_router)
router.include_router(channels_router)
router.include_router(csat_router)
router.include_router(widget_media_router)
router.include_router(conversation_media_router)
router.include_router(tickets_router)
router.include_router(knowledge_router)
router.include_router(canned_router)
router.include_router(aftersales_router)
router.include_router(bot_router)
router.include_router(bot_rating_router)
