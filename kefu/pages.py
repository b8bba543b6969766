"""HTML pages: every domain's page router."""

from fastapi import APIRouter

from kefu.accounts.pages import router as accounts_pages
from kefu.aftersales.pages import router as aftersales_pages
from kefu.bot.pages import router as bot_pages
from kefu.channels.admin_pages import router as channels_admin_pages
from kefu.channels.pages import router as channels_pages
from kefu.conversations.pages import router as conversations_pages
from kefu.knowledge.pages import router as knowledge_pages
from kefu.orderservice.pages import router as orderservice_pages
from kefu.store.admin_pages import router as store_admin_pages
from kefu.store.pages import router as store_pages
from kefu.tickets.pages import router as tickets_pages
from kefu.tickets.webform import router as tickets_webform
from kefu.web.pages import router as shell_pages

router = APIRouter()
# Domain pages first: they replace the shell's placeholders for sections not yet built.
router.include_router(orderservice_pages)  # before store pages: /orders/checks is no id
router.include_router(tickets_pages)
router.include_router(tickets_webform)
router.include_router(knowledge_pages)
router.include_router(aftersales_pages)
router.include_router(bot_pages)
router.include_router(shell_pages)
router.include_router(accounts_pages)
router.include_router(store_pages)
router.include_router(store_admin_pages)
router.include_router(conversations_pages)
router.include_router(channels_pages)
router.include_router(channels_admin_pages)
