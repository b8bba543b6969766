"""Vocabulary of the after-sales policy engine: request kinds and reasons, product categories
as the law groups them for "intact" (办法 9), condition findings, who pays a shipping leg.

The store keeps a product's category as free text (e.g. "女装/连衣裙"); the policy converter maps
that text onto `ProductCategory` so the category rules of 办法 9 and the durable-goods rule of
CPL 23 can be applied.
"""

from __future__ import annotations

from enum import StrEnum

from kefu.store.enums import ReturnExclusion


class RequestKind(StrEnum):
    refund_only = "refund_only"  # 仅退款
    return_refund = "return_refund"  # 退货退款
    exchange = "exchange"  # 换货
    resend = "resend"  # 补发
    repair = "repair"  # 维修
    refused_delivery = "refused_delivery"  # 拒收


REQUEST_KIND_LABELS: dict[RequestKind, tuple[str, str]] = {
    RequestKind.refund_only: ("仅退款", "Refund only"),
    RequestKind.return_refund: ("退货退款", "Return and refund"),
    RequestKind.exchange: ("换货", "Exchange"),
    RequestKind.resend: ("补发", "Resend"),
    RequestKind.repair: ("维修", "Repair"),
    RequestKind.refused_delivery: ("拒收", "Refused delivery"),
}


class RequestReason(StrEnum):
    no_reason = "no_reason"  # 七天无理由 / 不想要了
    quality = "quality"  # 质量问题
    wrong_item = "wrong_item"  # 错发
    missing_item = "missing_item"  # 少件/漏发
    not_as_described = "not_as_described"  # 与描述不符
    damaged_in_transit = "damaged_in_transit"  # 运输破损
    not_received = "not_received"  # 未收到货
    price_protection = "price_protection"  # 价保


REQUEST_REASON_LABELS: dict[RequestReason, tuple[str, str]] = {
    RequestReason.no_reason: ("七天无理由", "No reason (7-day return)"),
    RequestReason.quality: ("质量问题", "Quality problem"),
    RequestReason.wrong_item: ("商品错发", "Wrong item sent"),
    RequestReason.missing_item: ("少件/漏发", "Item missing"),
    RequestReason.not_as_described: ("与描述不符", "Not as described"),
    RequestReason.damaged_in_transit: ("运输破损", "Damaged in transit"),
    RequestReason.not_received: ("未收到货", "Not received"),
    RequestReason.price_protection: ("价格保护", "Price protection"),
}

# Reasons where the seller is at fault: CPL 24 (quality) applies and the seller pays transport.
# Transit damage is the seller's risk until delivery (电子商务法 20).
SELLER_FAULT_REASONS = frozenset(
    {
        RequestReason.quality,
        RequestReason.wrong_item,
        RequestReason.not_as_described,
        RequestReason.damaged_in_transit,
    }
)


class ProductCategory(StrEnum):
    food = "food"  # 食品（含保健食品）
    cosmetics = "cosmetics"  # 化妆品
    medical_device = "medical_device"  # 医疗器械、计生用品
    electronics = "electronics"  # 电子电器、数码
    computer = "computer"  # 电脑（CPL 23 耐用商品）
    home_appliance = "home_appliance"  # 电视、冰箱、空调、洗衣机（CPL 23 耐用商品）
    vehicle = "vehicle"  # 汽车（CPL 23 耐用商品）
    clothing = "clothing"  # 服装
    shoes = "shoes"  # 鞋帽
    bags = "bags"  # 箱包
    toys = "toys"  # 玩具
    home_textiles = "home_textiles"  # 家纺
    home = "home"  # 家居
    books = "books"  # 图书
    other = "other"


CATEGORY_LABELS: dict[ProductCategory, tuple[str, str]] = {
    ProductCategory.food: ("食品", "food"),
    ProductCategory.cosmetics: ("化妆品", "cosmetics"),
    ProductCategory.medical_device: ("医疗器械", "medical devices"),
    ProductCategory.electronics: ("电子电器", "electronics"),
    ProductCategory.computer: ("电脑", "computers"),
    ProductCategory.home_appliance: ("家用电器", "home appliances"),
    ProductCategory.vehicle: ("汽车", "vehicles"),
    ProductCategory.clothing: ("服装", "clothing"),
    ProductCategory.shoes: ("鞋帽", "shoes"),
    ProductCategory.bags: ("箱包", "bags"),
    ProductCategory.toys: ("玩具", "toys"),
    ProductCategory.home_textiles: ("家纺", "home textiles"),
    ProductCategory.home: ("家居", "home goods"),
    ProductCategory.books: ("图书", "books"),
    ProductCategory.other: ("其他", "other goods"),
}


class ConditionClass(StrEnum):
    """How 办法 9 judges "not intact" for a group of categories."""

    sealed = "sealed"  # food, cosmetics, medical devices: one-time seal
    electronics = "electronics"  # repair, serial labels, activation/data traces
    soft_goods = "soft_goods"  # clothing, shoes, bags, toys, home textiles: tags, soiling
    general = "general"  # only the general test of 办法 8


CATEGORY_CONDITION_CLASS: dict[ProductCategory, ConditionClass] = {
    ProductCategory.food: ConditionClass.sealed,
    ProductCategory.cosmetics: ConditionClass.sealed,
    ProductCategory.medical_device: ConditionClass.sealed,
    ProductCategory.electronics: ConditionClass.electronics,
    ProductCategory.computer: ConditionClass.electronics,
    ProductCategory.home_appliance: ConditionClass.electronics,
    ProductCategory.vehicle: ConditionClass.general,
    ProductCategory.clothing: ConditionClass.soft_goods,
    ProductCategory.shoes: ConditionClass.soft_goods,
    ProductCategory.bags: ConditionClass.soft_goods,
    ProductCategory.toys: ConditionClass.soft_goods,
    ProductCategory.home_textiles: ConditionClass.soft_goods,
    ProductCategory.home: ConditionClass.general,
    ProductCategory.books: ConditionClass.general,
    ProductCategory.other: ConditionClass.general,
}

# CPL 23 names computers, televisions, refrigerators, air conditioners, washing machines and
# cars; a shop may add categories (wider burden on itself) but never drop these.
LEGAL_DURABLE_CATEGORIES = frozenset(
    {ProductCategory.computer, ProductCategory.home_appliance, ProductCategory.vehicle}
)


class ConditionIssue(StrEnum):
    """A finding about returned goods, reported by the buyer or found on inspection."""

    opened_for_inspection = "opened_for_inspection"  # 拆封查验 — allowed (办法 8)
    reasonably_tested = "reasonably_tested"  # 合理调试 — allowed (办法 8)
    seal_broken = "seal_broken"  # 一次性密封包装破损
    unauthorised_repair = "unauthorised_repair"  # 未经授权的维修、改动
    serial_label_damaged = "serial_label_damaged"  # 序列号/认证标志/标贴被破坏
    heavy_wear = "heavy_wear"  # 难以恢复的外观使用痕迹
    activated = "activated"  # 激活、授权信息等数据类痕迹
    personal_data = "personal_data"  # 个人数据痕迹
    tags_removed = "tags_removed"  # 商标标识被摘、被剪
    soiled = "soiled"  # 受污
    damaged = "damaged"  # 受损
    missing_parts = "missing_parts"  # 配件、商标标识不全
    used_beyond_inspection = "used_beyond_inspection"  # 超出查验需要使用，价值贬损较大


CONDITION_ISSUE_LABELS: dict[ConditionIssue, tuple[str, str]] = {
    ConditionIssue.opened_for_inspection: ("拆封查验", "opened to inspect"),
    ConditionIssue.reasonably_tested: ("合理调试", "reasonably tested"),
    ConditionIssue.seal_broken: ("一次性密封包装已破损", "one-time seal broken"),
    ConditionIssue.unauthorised_repair: ("经过未经授权的维修或改动", "unauthorised repair"),
    ConditionIssue.serial_label_damaged: (
        "序列号或认证标志被破坏、涂改",
        "serial number or certification label damaged",
    ),
    ConditionIssue.heavy_wear: ("有难以恢复的外观使用痕迹", "wear that cannot be undone"),
    ConditionIssue.activated: ("已激活或产生授权信息", "activated"),
    ConditionIssue.personal_data: ("留有个人数据痕迹", "personal data left on the device"),
    ConditionIssue.tags_removed: ("商标标识被摘、被剪", "tags removed or cut"),
    ConditionIssue.soiled: ("商品受污", "soiled"),
    ConditionIssue.damaged: ("商品受损", "damaged"),
    ConditionIssue.missing_parts: ("配件或标识不全", "accessories or labels missing"),
    ConditionIssue.used_beyond_inspection: (
        "超出查验需要使用，价值贬损较大",
        "used beyond what inspection needs, losing much value",
    ),
}

# Findings that never make goods "not intact" (办法 8: opening to inspect, reasonable testing).
ALLOWED_HANDLING = frozenset(
    {ConditionIssue.opened_for_inspection, ConditionIssue.reasonably_tested}
)

# Findings that make goods not intact whatever the category (办法 8 general test and the
# lead-in of 办法 9: use beyond inspection that loses much value).
GENERAL_NOT_INTACT = frozenset(
    {ConditionIssue.damaged, ConditionIssue.missing_parts, ConditionIssue.used_beyond_inspection}
)

# Category-specific findings (办法 9 items 1–3).
CLASS_NOT_INTACT: dict[ConditionClass, frozenset[ConditionIssue]] = {
    ConditionClass.sealed: frozenset({ConditionIssue.seal_broken}),
    ConditionClass.electronics: frozenset(
        {
            ConditionIssue.unauthorised_repair,
            ConditionIssue.serial_label_damaged,
            ConditionIssue.heavy_wear,
            ConditionIssue.activated,
            ConditionIssue.personal_data,
        }
    ),
    ConditionClass.soft_goods: frozenset({ConditionIssue.tags_removed, ConditionIssue.soiled}),
    ConditionClass.general: frozenset(),
}

# 办法 6: outside 7-day no-reason returns whatever the buyer was told.
ALWAYS_EXCLUDED = frozenset(
    {
        ReturnExclusion.custom_made,
        ReturnExclusion.perishable,
        ReturnExclusion.digital_unsealed,
        ReturnExclusion.periodical,
    }
)
# 办法 7: outside only if the buyer confirmed at purchase (办法 20; 条例 19).
CONFIRM_EXCLUDED = frozenset(
    {
        ReturnExclusion.hygiene_unsealed,
        ReturnExclusion.value_lost_on_activation,
        ReturnExclusion.near_expiry_or_flawed,
    }
)

EXCLUSION_LABELS: dict[ReturnExclusion, tuple[str, str]] = {
    ReturnExclusion.custom_made: ("消费者定作的商品", "custom-made goods"),
    ReturnExclusion.perishable: ("鲜活易腐的商品", "fresh or perishable goods"),
    ReturnExclusion.digital_unsealed: (
        "在线下载或已拆封的音像制品、计算机软件等数字化商品",
        "downloaded or unsealed audio-video or software",
    ),
    ReturnExclusion.periodical: ("交付的报纸、期刊", "delivered newspapers or magazines"),
    ReturnExclusion.hygiene_unsealed: (
        "拆封后易影响人身安全、生命健康或品质易发生改变的商品",
        "goods affecting safety or health, or changing quality, once unsealed",
    ),
    ReturnExclusion.value_lost_on_activation: (
        "一经激活或试用后价值贬损较大的商品",
        "goods that lose much value once activated or tried",
    ),
    ReturnExclusion.near_expiry_or_flawed: (
        "销售时已明示的临近保质期或有瑕疵的商品",
        "near-expiry or disclosed-flaw goods",
    ),
}


class Payer(StrEnum):
    """Who bears one shipping leg."""

    buyer = "buyer"
    seller = "seller"
    none = "none"  # no such leg in this request


PAYER_LABELS: dict[Payer, tuple[str, str]] = {
    Payer.buyer: ("买家", "buyer"),
    Payer.seller: ("卖家", "seller"),
    Payer.none: ("不涉及", "not applicable"),
}


class Outcome(StrEnum):
    """What a rule contributed: it allowed, it refused, or it is information or advice."""

    passed = "passed"
    failed = "failed"
    info = "info"


# ---- after-sales cases (售后单) -------------------------------------------------------------


class CaseStatus(StrEnum):
    requested = (
        "requested"  # 待审核: the buyer asked, the shop has not answered (WAIT_SELLER_AGREE)
    )
    refused = "refused"  # 不予受理: the policy engine refused it at creation
    rejected = "rejected"  # 已拒绝: the shop refused it, with a reason (SELLER_REFUSE_BUYER)
    approved = "approved"  # 已同意: refund-only / resend waiting for the money or the parcel
    awaiting_return = "awaiting_return"  # 待买家退货 (WAIT_BUYER_RETURN_GOODS)
    returned = "returned"  # 买家已寄回 (WAIT_SELLER_CONFIRM_GOODS)
    received = "received"  # 仓库已收货
    inspection_passed = "inspection_passed"  # 验货通过
    inspection_failed = "inspection_failed"  # 验货不通过
    refunded = "refunded"  # 已退款 (SUCCESS)
    reshipped = "reshipped"  # 已发出（换货、补发、维修寄回）
    closed = "closed"  # 已关闭 (CLOSED)


CASE_STATUS_LABELS: dict[str, tuple[str, str]] = {
    CaseStatus.requested: ("待审核", "Awaiting review"),
    CaseStatus.refused: ("不予受理", "Not eligible"),
    CaseStatus.rejected: ("已拒绝", "Rejected"),
    CaseStatus.approved: ("已同意", "Approved"),
    CaseStatus.awaiting_return: ("待买家退货", "Awaiting return"),
    CaseStatus.returned: ("买家已寄回", "Return shipped"),
    CaseStatus.received: ("仓库已收货", "Received"),
    CaseStatus.inspection_passed: ("验货通过", "Inspection passed"),
    CaseStatus.inspection_failed: ("验货不通过", "Inspection failed"),
    CaseStatus.refunded: ("已退款", "Refunded"),
    CaseStatus.reshipped: ("已发出", "Reshipped"),
    CaseStatus.closed: ("已关闭", "Closed"),
}

CASE_STATUS_TONES: dict[str, str] = {
    CaseStatus.requested: "amber",
    CaseStatus.refused: "red",
    CaseStatus.rejected: "red",
    CaseStatus.approved: "blue",
    CaseStatus.awaiting_return: "blue",
    CaseStatus.returned: "purple",
    CaseStatus.received: "purple",
    CaseStatus.inspection_passed: "green",
    CaseStatus.inspection_failed: "red",
    CaseStatus.refunded: "green",
    CaseStatus.reshipped: "green",
    CaseStatus.closed: "grey",
}

# The state machine. Every transition in the service checks this table first.
CASE_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.requested: frozenset(
        {CaseStatus.approved, CaseStatus.awaiting_return, CaseStatus.rejected, CaseStatus.closed}
    ),
    # An agent's override (with a reason) may still accept a refused or rejected request.
    CaseStatus.refused: frozenset(
        {CaseStatus.approved, CaseStatus.awaiting_return, CaseStatus.closed}
    ),
    CaseStatus.rejected: frozenset(
        {CaseStatus.approved, CaseStatus.awaiting_return, CaseStatus.closed}
    ),
    CaseStatus.approved: frozenset({CaseStatus.refunded, CaseStatus.reshipped, CaseStatus.closed}),
    # The warehouse may receive a parcel whose tracking number the buyer never entered.
    CaseStatus.awaiting_return: frozenset(
        {CaseStatus.returned, CaseStatus.received, CaseStatus.closed}
    ),
    CaseStatus.returned: frozenset({CaseStatus.returned, CaseStatus.received, CaseStatus.closed}),
    CaseStatus.received: frozenset({CaseStatus.inspection_passed, CaseStatus.inspection_failed}),
    CaseStatus.inspection_passed: frozenset({CaseStatus.refunded, CaseStatus.reshipped}),
    # A failed inspection ends the case, unless an approver refunds anyway (with a reason).
    CaseStatus.inspection_failed: frozenset({CaseStatus.refunded, CaseStatus.closed}),
    CaseStatus.refunded: frozenset({CaseStatus.closed}),
    CaseStatus.reshipped: frozenset({CaseStatus.closed}),
    CaseStatus.closed: frozenset(),
}

OPEN_CASE_STATUSES = frozenset(CaseStatus) - {CaseStatus.closed}
# Statuses where the shop owes the next step (shown as "to do" in the list).
SHOP_TODO_STATUSES = frozenset(
    {
        CaseStatus.requested,
        CaseStatus.approved,
        CaseStatus.received,
        CaseStatus.inspection_passed,
        CaseStatus.inspection_failed,
    }
)
# Kinds whose goods come back to the warehouse before money or a new parcel goes out.
RETURN_KINDS = frozenset(
    {
        RequestKind.return_refund,
        RequestKind.exchange,
        RequestKind.repair,
        RequestKind.refused_delivery,
    }
)
# Kinds that end with a parcel to the buyer rather than money.
RESHIP_KINDS = frozenset({RequestKind.exchange, RequestKind.resend, RequestKind.repair})


class CaseSource(StrEnum):
    customer = "customer"
    bot = "bot"
    agent = "agent"
    api = "api"


CASE_SOURCE_LABELS: dict[str, tuple[str, str]] = {
    CaseSource.customer: ("顾客自助", "Customer self-service"),
    CaseSource.bot: ("机器人", "Bot"),
    CaseSource.agent: ("客服", "Agent"),
    CaseSource.api: ("API", "API"),
}


class PhotoStage(StrEnum):
    request = "request"  # the buyer's photos of the problem
    inspection = "inspection"  # the warehouse's photos of what came back
