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


_AGENT = {
    Permission.inbox_use,
    Permission.customers_read,
    Permission.customers_write,
    Permission.orders_read,
    Permission.orders_write,
    Permission.tickets_read,
    Permission.tickets_write,
    Permission.knowledge_read,
}
_SUPERVISOR = _AGENT | {
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


def permissions_for(role: str) -> frozenset[Permission]:
    return ROLE_PERMISSIONS.get(Role(role), frozenset())
