"""Roles and the permissions they grant.

Every route declares the permission it needs (`Require(Permission.X)`); a role is a named
set of permissions. API tokens carry scopes, a subset of their owner's permissions.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    supervisor = "supervisor"
    agent = "agent"
    qa = "qa"


class Permission(StrEnum):
    inbox_use = "inbox.use"
    customers_read = "customers.read"
    customers_write = "customers.write"
    customers_reveal_pii = "customers.reveal_pii"
    orders_read = "orders.read"
    orders_write = "orders.write"
    store_import = "store.import"
    stores_manage = "stores.manage"
    tickets_read = "tickets.read"
    tickets_write = "tickets.write"
    knowledge_read = "knowledge.read"
    knowledge_write = "knowledge.write"
    reports_read = "reports.read"
    qa_score = "qa.score"
    users_manage = "users.manage"
    groups_manage = "groups.manage"
    audit_read = "audit.read"
    settings_manage = "settings.manage"
    aftersales_read = "aftersales.read"
    aftersales_write = "aftersales.write"
    # Approve or reject cases and override the policy engine's decision (with a reason).
    aftersales_approve = "aftersales.approve"
    # Receive and inspect returned parcels (the warehouse view).
    aftersales_warehouse = "aftersales.warehouse"
    conversations_supervise = "conversations.supervise"


_AGENT = {
    Permission.inbox_use,
    Permission.customers_read,
    Permission.customers_write,
    Permission.orders_read,
    Permission.orders_write,
    Permission.tickets_read,
    Permission.tickets_write,
    Permission.knowledge_read,
    Permission.aftersales_read,
    Permission.aftersales_write,
    Permission.aftersales_warehouse,
}
_SUPERVISOR = _AGENT | {
    Permission.aftersales_approve,
    Permission.conversations_supervise,
    Permission.customers_reveal_pii,
    Permission.store_import,
    Permission.knowledge_write,
    Permission.reports_read,
    Permission.qa_score,
    Permission.groups_manage,
    Permission.audit_read,
}
_QA = {
    Permission.inbox_use,
    Permission.customers_read,
    Permission.orders_read,
    Permission.tickets_read,
    Permission.knowledge_read,
    Permission.knowledge_write,
    Permission.reports_read,
    Permission.qa_score,
    Permission.aftersales_read,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.supervisor: frozenset(_SUPERVISOR),
    Role.agent: frozenset(_AGENT),
    Role.qa: frozenset(_QA),
}

ROLE_LABELS = {
    Role.admin: ("管理员", "Admin"),
    Role.supervisor: ("客服主管", "Supervisor"),
    Role.agent: ("客服专员", "Agent"),
    Role.qa: ("质检培训", "QA / trainer"),
}


# What each role is for, in a sentence: shown where an admin picks a role. (Chinese, English)
ROLE_DESCRIPTIONS = {
    Role.admin: (
        "全部权限：店铺、渠道、用户与安全设置",
        "Everything: stores, channels, users and security",
    ),
    Role.supervisor: (
        "管理分组、导入数据、查看报表和审计日志，可查看完整联系方式",
        "Groups, imports, reports and the audit log; sees full contact details",
    ),
    Role.agent: (
        "接待会话，处理客户、订单和工单；联系方式脱敏显示",
        "Chats, customers, orders and tickets; contact details masked",
    ),
    Role.qa: (
        "质检评分、维护知识库、查看报表",
        "Scores conversations, maintains the knowledge base, reads reports",
    ),
}


def permissions_for(role: str) -> frozenset[Permission]:
    return ROLE_PERMISSIONS.get(Role(role), frozenset())


# Shown where people pick token scopes or read what a role may do: (Chinese, English).
PERMISSION_LABELS: dict[Permission, tuple[str, str]] = {
    Permission.inbox_use: ("使用工作台接待会话", "Use the inbox"),
    Permission.customers_read: ("查看客户", "View customers"),
    Permission.customers_write: ("编辑客户", "Edit customers"),
    Permission.customers_reveal_pii: (
        "查看完整手机号和地址",
        "See full phone numbers and addresses",
    ),
    Permission.orders_read: ("查看订单", "View orders"),
    Permission.orders_write: (
        "处理订单（备注、改地址等）",
        "Act on orders (notes, address changes)",
    ),
    Permission.store_import: ("导入店铺数据", "Import store data"),
    Permission.stores_manage: ("管理店铺", "Manage stores"),
    Permission.tickets_read: ("查看工单", "View tickets"),
    Permission.tickets_write: ("处理工单", "Work on tickets"),
    Permission.knowledge_read: ("查看知识库", "Read the knowledge base"),
    Permission.knowledge_write: ("编辑知识库", "Edit the knowledge base"),
    Permission.reports_read: ("查看报表", "View reports"),
    Permission.qa_score: ("质检评分", "Score conversations (QA)"),
    Permission.users_manage: ("管理用户", "Manage users"),
    Permission.groups_manage: ("管理分组", "Manage groups"),
    Permission.audit_read: ("查看审计日志", "Read the audit log"),
    Permission.settings_manage: ("管理系统设置", "Manage settings"),
    Permission.aftersales_read: ("查看售后单", "View after-sales cases"),
    Permission.aftersales_write: ("处理售后单", "Work on after-sales cases"),
    Permission.aftersales_approve: ("审核售后与改判", "Approve cases and override policy"),
    Permission.aftersales_warehouse: ("仓库收货验货", "Receive and inspect returns"),
    Permission.conversations_supervise: ("监控与改派会话", "Supervise and reassign chats"),
}
