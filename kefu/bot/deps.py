"""Who may change a store's bot: those who manage settings or write the knowledge base."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from kefu.accounts.deps import CurrentPrincipal, Principal
from kefu.accounts.permissions import Permission
from kefu.core.errors import Forbidden


async def _bot_editor(principal: CurrentPrincipal) -> Principal:
    if principal.can(Permission.settings_manage) or principal.can(Permission.knowledge_write):
        return principal
    raise Forbidden(
        "您没有执行此操作的权限，需要「管理系统设置」或「编辑知识库」权限",
        "Permission required: Manage settings (settings.manage) or Edit the knowledge base "
        "(knowledge.write)",
    )


BotEditor = Annotated[Principal, Depends(_bot_editor)]
