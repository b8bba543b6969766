"""Builds the demo shop in memory from `content.py` with a seeded random generator.

Nothing here touches the database: `generate(now)` returns plain objects that `loader.py`
inserts. The same seed gives the same shop; every time is relative to `now`, so a demo
loaded today has orders from the last 60 days, unpaid orders from the last two hours, and
parcels on the road right now.

Time rules every order obeys: placed ≤ paid ≤ shipped ≤ signed ≤ finished ≤ now, and a
status only has the timestamps it implies (an unpaid order has no paid_at, a closed one a
closed_at). Money rules: an order line's paid_amount is its share after the order discount;
the order's paid_amount is the lines plus shipping once paid (0 before payment); its
refunded_amount is the sum of its successful refunds.
"""

from __future__ import annotations

import random
import string
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from kefu.demo import content as c
from kefu.store.enums import (
    CustomerTier,
    OrderStatus,
    RefundStatus,
    ReturnExclusion,
    ShipmentStatus,
)

SEED = 20260
SHANGHAI = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")

N_CUSTOMERS = {"tmall-flagship": 210, "jd-store": 90}
N_ORDERS = 2000
N_DUPLICATES = 12
N_REVIEWS = 500
REVIEW_MIX = {"pos": 350, "neu": 75, "neg": 75}
HISTORY = timedelta(days=60)
AUTO_CONFIRM = timedelta(days=15)
UNPAID_CLOSE = timedelta(minutes=120)

# Orders per status, except TRADE_FINISHED which takes the rest.
STATUS_COUNTS: dict[OrderStatus, int] = {
    OrderStatus.WAIT_BUYER_PAY: 18,
    OrderStatus.TRADE_CLOSED_BY_TAOBAO: 110,
    OrderStatus.WAIT_SELLER_SEND_GOODS: 70,
    OrderStatus.SELLER_CONSIGNED_PART: 36,
    OrderStatus.WAIT_BUYER_CONFIRM_GOODS: 300,
    OrderStatus.TRADE_BUYER_SIGNED: 45,
    OrderStatus.TRADE_CLOSED: 150,
}

# When an order in each status may have been placed: (oldest, newest) before now.
PLACED_WINDOW: dict[OrderStatus, tuple[timedelta, timedelta]] = {
    OrderStatus.WAIT_BUYER_PAY: (timedelta(minutes=110), timedelta(minutes=1)),
    OrderStatus.TRADE_CLOSED_BY_TAOBAO: (HISTORY, timedelta(hours=2, minutes=30)),
    OrderStatus.WAIT_SELLER_SEND_GOODS: (timedelta(hours=60), timedelta(minutes=5)),
    OrderStatus.SELLER_CONSIGNED_PART: (timedelta(days=6), timedelta(hours=8)),
    OrderStatus.WAIT_BUYER_CONFIRM_GOODS: (timedelta(days=16), timedelta(hours=4)),
    OrderStatus.TRADE_BUYER_SIGNED: (timedelta(days=16), timedelta(days=2)),
    OrderStatus.TRADE_FINISHED: (HISTORY, timedelta(days=3)),
    OrderStatus.TRADE_CLOSED: (HISTORY, timedelta(days=1)),
}

# Relative number of orders placed in each local hour (evening peak, quiet nights).
HOUR_WEIGHTS = (3, 2, 1, 1, 1, 1, 2, 4, 6, 8, 10, 10, 9, 8, 8, 8, 8, 7, 7, 9, 12, 14, 13, 8)

T = TypeVar("T")


# --- the generated objects ----------------------------------------------------------------


@dataclass(eq=False)
class GStore:
    spec: c.StoreSpec
    id: int = 0


@dataclass(eq=False)
class GProduct:
    store: GStore
    spec: c.ProductSpec
    external_id: str
    price: Decimal
    created_at: datetime
    skus: list[GSku] = field(default_factory=list)
    id: int = 0


@dataclass(eq=False)
class GSku:
    product: GProduct
    external_id: str
    sku_code: str
    color: str
    size: str
    price: Decimal
    stock: int
    id: int = 0

    @property
    def desc(self) -> str:
        return f"颜色:{self.color};{self.product.spec.option_name}:{self.size}"


@dataclass(eq=False)
class GAddress:
    receiver_name: str
    phone: str
    place: c.City
    district: str
    detail: str
    postal_code: str
    is_default: bool
    community: str


@dataclass(eq=False)
class GCustomer:
    store: GStore
    external_id: str
    name: str
    nickname: str
    gender: str
    phone: str
    email: str | None
    addresses: list[GAddress]
    identities: list[tuple[str, str, str]]
    marketing_opt_in: bool
    tier: str = CustomerTier.normal.value
    tags: list[str] = field(default_factory=list)
    note: str = ""
    first_seen_at: datetime | None = None
    id: int = 0

    @property
    def phone_tail(self) -> str:
        return self.phone[-4:]


@dataclass(eq=False)
class GItem:
    external_id: str
    sku: GSku
    quantity: int
    unit_price: Decimal
    paid_amount: Decimal = Decimal("0")
    refund_status: str | None = None
    return_exclusion_confirmed: bool = False
    id: int = 0

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(eq=False)
class GEvent:
    at: datetime
    location: str
    description: str
    status: str


@dataclass(eq=False)
class GShipment:
    carrier: str
    tracking_no: str
    status: str
    shipped_at: datetime
    delivered_at: datetime | None
    events: list[GEvent]
    is_return: bool = False
    id: int = 0


@dataclass(eq=False)
class GRefund:
    item: GItem | None
    amount: Decimal
    reason: str
    key: str
    created_at: datetime


@dataclass(eq=False)
class GOrder:
    store: GStore
    customer: GCustomer
    order_no: str
    status: OrderStatus
    items: list[GItem]
    address: GAddress
    placed_at: datetime
    buyer_message: str = ""
    seller_memo: str = ""
    shipping_fee: Decimal = Decimal("0")
    discount_amount: Decimal = Decimal("0")
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    signed_at: datetime | None = None
    finished_at: datetime | None = None
    closed_at: datetime | None = None
    shipments: list[GShipment] = field(default_factory=list)
    refunds: list[GRefund] = field(default_factory=list)
    notes: list[tuple[str, str, datetime]] = field(default_factory=list)
    id: int = 0

    @property
    def items_total(self) -> Decimal:
        return sum((i.line_total for i in self.items), Decimal("0"))

    @property
    def total_amount(self) -> Decimal:
        return self.items_total + self.shipping_fee

    @property
    def paid_amount(self) -> Decimal:
        return self.total_amount - self.discount_amount if self.paid_at else Decimal("0")

    @property
    def refunded_amount(self) -> Decimal:
        return sum((r.amount for r in self.refunds), Decimal("0"))

    @property
    def updated_at(self) -> datetime:
        times = [self.placed_at, self.paid_at, self.shipped_at, self.signed_at]
        times += [self.finished_at, self.closed_at]
        times += [r.created_at for r in self.refunds]
        return max(t for t in times if t is not None)


@dataclass(eq=False)
class GReview:
    store: GStore
    order: GOrder
    item: GItem
    external_id: str
    rating: int
    sentiment: str
    content: str
    reviewed_at: datetime
    reply: str


@dataclass(eq=False)
class GCustomerNote:
    customer: GCustomer
    author_username: str
    body: str
    created_at: datetime


@dataclass
class DemoData:
    now: datetime
    stores: list[GStore]
    products: list[GProduct]
    customers: list[GCustomer]
    orders: list[GOrder]
    reviews: list[GReview]
    customer_notes: list[GCustomerNote]

    @property
    def skus(self) -> list[GSku]:
        return [s for p in self.products for s in p.skus]


@dataclass
class _Timeline:
    paid: datetime | None = None
    shipped: datetime | None = None
    signed: datetime | None = None
    finished: datetime | None = None
    closed: datetime | None = None
    shipments: list[GShipment] = field(default_factory=list)
    close_kind: str = ""


# --- helpers -------------------------------------------------------------------------------


def _money(value: str | int | Decimal) -> Decimal:
    return Decimal(value).quantize(CENT)


class _Generator:
    def __init__(self, now: datetime, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now = now.astimezone(SHANGHAI).replace(microsecond=0)
        self._used: set[tuple[str, str]] = set()

    # small random helpers

    def pick(self, seq: Sequence[T]) -> T:
        return seq[self.rng.randrange(len(seq))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def digits(self, n: int, first: str = "123456789") -> str:
        return self.pick(first) + "".join(self.pick(string.digits) for _ in range(n - 1))

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.pick(alphabet) for _ in range(n))

    def fresh(self, factory: Callable[[], str], scope: str = "") -> str:
        """Draw until the value is new (within `scope`): order numbers, phones never repeat."""
        for _ in range(1000):
            value = factory()
            if (scope, value) not in self._used:
                self._used.add((scope, value))
                return value
        raise RuntimeError("could not draw a unique value")  # pragma: no cover

    def minutes(self, lo: float, hi: float) -> timedelta:
        return timedelta(seconds=int(self.rng.uniform(lo, hi) * 60))

    def hours(self, lo: float, hi: float) -> timedelta:
        return self.minutes(lo * 60, hi * 60)

    def local_time_between(self, lo: datetime, hi: datetime) -> datetime:
        """A moment in [lo, hi] following the shop's daily rhythm of orders."""
        if hi <= lo:
            return lo
        span_days = (hi - lo).days + 1
        for _ in range(40):
            day = (lo + timedelta(days=self.rng.randrange(span_days))).date()
            hour = self.rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
            moment = datetime(
                day.year,
                day.month,
                day.day,
                hour,
                self.rng.randrange(60),
                self.rng.randrange(60),
                tzinfo=SHANGHAI,
            )
            if lo <= moment <= hi:
                return moment
        return lo + timedelta(seconds=self.rng.randrange(int((hi - lo).total_seconds()) + 1))

    def next_working(self, at: datetime, start: int, end: int) -> datetime:
        """`at` if it falls in local hours [start, end), else a moment early the next day."""
        local = at.astimezone(SHANGHAI)
        if start <= local.hour < end:
            return local
        day = local.date() if local.hour < start else local.date() + timedelta(days=1)
        base = datetime(day.year, day.month, day.day, start, tzinfo=SHANGHAI)
        return base + self.minutes(0, 100)


# --- the generator proper --------------------------------------------------------------------


class DemoGenerator(_Generator):
    def run(self) -> DemoData:
        stores = [GStore(spec) for spec in c.STORES]
        by_code = {s.spec.code: s for s in stores}
        products = self.catalogue(stores)
        customers = [
            self.customer(by_code[code]) for code, n in N_CUSTOMERS.items() for _ in range(n)
        ]
        orders = self.orders(customers, products)
        self.after_sales(orders)
        reviews = self.reviews(orders)
        notes = self.profiles(customers, orders, reviews)
        return DemoData(self.now, stores, products, customers, orders, reviews, notes)

    # catalogue

    def catalogue(self, stores: list[GStore]) -> list[GProduct]:
        products: list[GProduct] = []
        for store in stores:
            tmall = store.spec.platform == "tmall"
            for spec in c.PRODUCTS:
                if not tmall and not spec.on_jd:
                    continue
                ext = self.fresh(
                    (lambda: self.digits(12, "6")) if tmall else (lambda: "10" + self.digits(10))
                )
                product = GProduct(
                    store=store,
                    spec=spec,
                    external_id=ext,
                    price=_money(spec.price),
                    created_at=self.now - timedelta(days=self.rng.randint(90, 420)),
                )
                for ci, color in enumerate(spec.colors):
                    for si, option in enumerate(spec.options):
                        price = _money(spec.price) + _money(spec.option_prices.get(option, "0"))
                        code = option if option.isascii() and len(option) <= 4 else f"{si + 1:02d}"
                        product.skus.append(
                            GSku(
                                product=product,
                                external_id=self.fresh(
                                    (lambda: self.digits(13, "5"))
                                    if tmall
                                    else (lambda: "100" + self.digits(9))
                                ),
                                sku_code=f"QM-{spec.key}-{ci + 1:02d}-{code}",
                                color=color,
                                size=option,
                                price=price,
                                stock=self.stock(spec),
                            )
                        )
                product.price = min(s.price for s in product.skus)
                products.append(product)
        return products

    def stock(self, spec: c.ProductSpec) -> int:
        roll = self.rng.random()
        if roll < 0.08:
            return 0  # sold out: buyers ask "还有货吗"
        if roll < 0.16:
            return self.rng.randint(1, 5)
        top = 80 + spec.popularity * 60
        return self.rng.randint(10, top)

    # people

    def customer(self, store: GStore) -> GCustomer:
        gender = "female" if self.chance(0.68) else "male"
        surnames, weights = zip(*c.SURNAMES, strict=True)
        surname = self.rng.choices(surnames, weights=weights)[0]
        name = surname + self.given_name(gender)
        phone = self.fresh(lambda: self.pick(c.MOBILE_PREFIXES) + self.digits(8, string.digits))
        tmall = store.spec.platform == "tmall"
        nickname = self.fresh(lambda: self.nickname(tmall), scope=f"nick:{store.spec.code}")
        email = self.email() if self.chance(0.3) else None
        addresses = [self.address(name, surname, phone, default=True)]
        if self.chance(0.22):
            addresses.append(self.address(name, surname, phone, default=False))
        identities: list[tuple[str, str, str]] = []
        if tmall:
            # Taobao hands shops an opaque buyer_open_uid, not the buyer's account id.
            open_uid = self.fresh(
                lambda: "AAH" + self.chars(string.ascii_letters + string.digits + "-_", 21)
            )
            identities.append(("taobao", open_uid, nickname))
        else:
            identities.append(("jd", nickname, nickname))
        if self.chance(0.2):
            visitor = self.fresh(lambda: "wv_" + self.chars("0123456789abcdef", 16))
            identities.append(("web", visitor, nickname))
        if email:
            identities.append(("email", email, email))
        return GCustomer(
            store=store,
            external_id=self.fresh(lambda: "QM" + self.digits(8)),
            name=name,
            nickname=nickname,
            gender=gender,
            phone=phone,
            email=email,
            addresses=addresses,
            identities=identities,
            marketing_opt_in=self.chance(0.35),
        )

    def given_name(self, gender: str) -> str:
        pool = c.GIVEN_FEMALE if gender == "female" else c.GIVEN_MALE
        return self.pick(pool)

    def nickname(self, tmall: bool) -> str:
        """Platform defaults (tb123…, jd_…) or the cute names buyers pick themselves."""
        roll = self.rng.random()
        if not tmall and roll < 0.45:
            return "jd_" + self.chars(string.ascii_lowercase + string.digits, 13)
        if tmall and roll < 0.22:
            return "tb" + self.digits(self.rng.choice((9, 10)))
        roll = self.rng.random()
        if roll < 0.3:
            adj = self.pick(c.NICK_ADJ)
            if adj.endswith("的"):
                return adj + self.pick(c.NICK_ANIMAL)
            return f"{adj}{self.pick(c.NICK_FOOD)}的{self.pick(c.NICK_ANIMAL)}"
        if roll < 0.6:
            word = self.pick(c.NICK_WORDS)
            if self.chance(0.5):
                word += self.pick(("2016", "1990", "0823", "520", "666", "_", "呀", "酱"))
            return word
        if roll < 0.85:
            sep = self.pick(("_", "", "."))
            return f"{self.pick(c.NICK_LATIN)}{sep}{self.digits(self.rng.randint(2, 4))}"
        given = self.given_name(self.pick(("female", "male")))
        return f"小{given[-1]}{self.pick(('同学', '酱', '呀', '吖', '不吃香菜'))}"

    def email(self) -> str:
        domains, weights = zip(*c.EMAIL_DOMAINS, strict=True)
        domain = self.rng.choices(domains, weights=weights)[0]
        if domain == "qq.com" and self.chance(0.8):
            return self.fresh(lambda: f"{self.digits(self.rng.randint(6, 10))}@qq.com")
        return self.fresh(
            lambda: (
                f"{self.pick(c.NICK_LATIN)}{self.pick(('', '.', '_'))}"
                f"{self.digits(self.rng.randint(2, 4))}@{domain}"
            )
        )

    def address(self, name: str, surname: str, phone: str, *, default: bool) -> GAddress:
        place = self.rng.choices(c.CITIES, weights=[ct.weight for ct in c.CITIES])[0]
        district = self.pick(list(place.districts))
        street = self.pick(place.districts[district])
        community = self.pick(c.COMMUNITIES)
        receiver, receiver_phone = name, phone
        if default or self.chance(0.5):
            room = self.rng.randint(1, 28) * 100 + self.rng.randint(1, 4)
            detail = (
                f"{street}{self.rng.randint(1, 999)}号{community}"
                f"{self.rng.randint(1, 32)}幢{self.rng.randint(1, 4)}单元{room}室"
            )
        else:
            office = self.pick(c.OFFICES)
            detail = f"{street}{self.rng.randint(1, 999)}号{office}{self.rng.randint(2, 30)}楼"
            if self.chance(0.5):
                detail += "前台"
            community = office
            if self.chance(0.4):
                # Sent to a parent or partner: another name, another phone.
                receiver = surname + self.given_name(self.pick(("female", "male")))
                receiver_phone = self.fresh(
                    lambda: self.pick(c.MOBILE_PREFIXES) + self.digits(8, string.digits)
                )
        return GAddress(
            receiver_name=receiver,
            phone=receiver_phone,
            place=place,
            district=district,
            detail=detail,
            postal_code=place.postal[:4] + f"{self.rng.randint(0, 99):02d}",
            is_default=default,
            community=community,
        )

    # orders

    def orders(self, customers: list[GCustomer], products: list[GProduct]) -> list[GOrder]:
        by_store: dict[str, list[GProduct]] = defaultdict(list)
        for p in products:
            by_store[p.store.spec.code].append(p)
        n_regular = N_ORDERS - N_DUPLICATES
        statuses: list[OrderStatus] = []
        for status, n in STATUS_COUNTS.items():
            statuses += [status] * n
        statuses += [OrderStatus.TRADE_FINISHED] * (n_regular - len(statuses))
        self.rng.shuffle(statuses)

        # A few customers only ever chatted; the rest bought at least once, some many times.
        buyers = [cu for cu in customers if not self.chance(0.05)]
        weights = [min(self.rng.paretovariate(1.3), 14.0) for _ in buyers]
        slots = list(buyers) + self.rng.choices(buyers, weights=weights, k=n_regular - len(buyers))
        self.rng.shuffle(slots)

        orders: list[GOrder] = []
        for customer, status in zip(slots, statuses, strict=True):
            catalogue = by_store[customer.store.spec.code]
            order = None
            while order is None:
                order = self.order(customer, status, self.items(catalogue, status))
            orders.append(order)
        orders += self.duplicates(orders)
        orders.sort(key=lambda o: o.placed_at)
        return orders

    def items(self, catalogue: list[GProduct], status: OrderStatus) -> list[GItem]:
        n = self.rng.choices((1, 2, 3), weights=(65, 25, 10))[0]
        if status == OrderStatus.SELLER_CONSIGNED_PART:
            n = max(n, 2)
        chosen: list[GSku] = []
        weights = [p.spec.popularity for p in catalogue]
        while len(chosen) < n:
            product = self.rng.choices(catalogue, weights=weights)[0]
            sku = self.pick(product.skus)
            if sku not in chosen:
                chosen.append(sku)
        return [self.item(sku) for sku in chosen]

    def item(self, sku: GSku) -> GItem:
        spec = sku.product.spec
        quantity = 1
        if spec.kind in ("socks", "tee", "underwear", "brushhead") and self.chance(0.25):
            quantity = self.pick((2, 2, 3))
        elif self.chance(0.04):
            quantity = 2
        confirmed = spec.return_exclusion == ReturnExclusion.hygiene_unsealed and self.chance(0.9)
        return GItem(
            external_id="",
            sku=sku,
            quantity=quantity,
            unit_price=sku.price,
            return_exclusion_confirmed=confirmed,
        )

    def order(
        self,
        customer: GCustomer,
        status: OrderStatus,
        items: list[GItem],
        placed: datetime | None = None,
    ) -> GOrder | None:
        store = customer.store
        tmall = store.spec.platform == "tmall"
        address = customer.addresses[0]
        if len(customer.addresses) > 1 and self.chance(0.3):
            address = customer.addresses[1]
        message = ""
        if self.chance(0.14):
            first = items[0].sku
            message = self.pick(c.BUYER_MESSAGES).format(color=first.color, size=first.size)
        carrier = self.carrier(tmall, address.place, message)
        timeline = None
        for _ in range(80 if placed is None else 10):
            placed_at = placed or self.placed_at(status)
            timeline = self.timeline(status, placed_at, store, address, carrier)
            if timeline is not None:
                break
        if timeline is None:
            return None
        order_no = self.fresh(
            (lambda: self.digits(self.rng.choice((19, 19, 19, 18)), "1234"))
            if tmall
            else (lambda: self.digits(12, "23"))
        )
        for i, item in enumerate(items):
            if tmall:
                item.external_id = (
                    order_no if len(items) == 1 else self.fresh(lambda: self.digits(19, "1234"))
                )
            else:
                item.external_id = f"{item.sku.external_id}-{i + 1}"
        order = GOrder(
            store=store,
            customer=customer,
            order_no=order_no,
            status=status,
            items=items,
            address=address,
            placed_at=placed_at,
            buyer_message=message,
            paid_at=timeline.paid,
            shipped_at=timeline.shipped,
            signed_at=timeline.signed,
            finished_at=timeline.finished,
            closed_at=timeline.closed,
            shipments=timeline.shipments,
        )
        self.price(order)
        if status == OrderStatus.SELLER_CONSIGNED_PART:
            order.seller_memo = self.pick(c.PARTIAL_MEMOS)
        elif self.chance(0.06):
            order.seller_memo = self.pick(c.SELLER_MEMOS)
        if status == OrderStatus.TRADE_CLOSED:
            self.close_refunds(order, timeline.close_kind)
        return order

    def price(self, order: GOrder) -> None:
        subtotal = order.items_total
        discount = Decimal("0")
        roll = self.rng.random()
        if subtotal >= 299 and roll < 0.45:
            discount = Decimal("30")
        elif subtotal >= 199 and roll < 0.4:
            discount = Decimal("20")
        elif subtotal >= 99 and roll < 0.3:
            discount = Decimal("10")
        elif subtotal >= 49 and roll < 0.2:
            discount = Decimal("5")
        order.discount_amount = _money(discount)
        fee = c.REMOTE_SHIPPING.get(order.address.place.province)
        if fee:
            order.shipping_fee = _money(fee)
        elif order.store.spec.platform == "jd" and subtotal - discount < 59:
            order.shipping_fee = _money("6")
        # Spread the discount over the lines in proportion; the last line takes the rounding.
        left = order.discount_amount
        for i, item in enumerate(order.items):
            if i == len(order.items) - 1:
                share = left
            else:
                share = (order.discount_amount * item.line_total / subtotal).quantize(CENT)
            item.paid_amount = item.line_total - share
            left -= share

    def placed_at(self, status: OrderStatus) -> datetime:
        oldest, newest = PLACED_WINDOW[status]
        if status == OrderStatus.TRADE_FINISHED and self.chance(0.9):
            # Recent days are busy with orders still on their way; finished ones are older,
            # so orders per day stay roughly even across the 60 days.
            newest = AUTO_CONFIRM + timedelta(days=1)
        return self.local_time_between(self.now - oldest, self.now - newest)

    def carrier(self, tmall: bool, place: c.City, message: str) -> str:
        if "顺丰" in message:
            return "sf"
        if not tmall:
            return "jd" if self.chance(0.88) else "sf"
        keys = ["sf", "zto", "yto", "yd", "ems"]
        weights = [20, 32, 25, 15, 40 if place.distance == 3 else 6]
        if "韵达" in message:
            weights[3] = 0
        return self.rng.choices(keys, weights=weights)[0]

    def timeline(
        self,
        status: OrderStatus,
        placed: datetime,
        store: GStore,
        address: GAddress,
        carrier: str,
    ) -> _Timeline | None:
        now = self.now
        if placed > now:
            return None
        if status == OrderStatus.WAIT_BUYER_PAY:
            return _Timeline() if now - placed < timedelta(minutes=115) else None
        if status == OrderStatus.TRADE_CLOSED_BY_TAOBAO:
            # Either the buyer cancels, or the unpaid order times out after 120 minutes.
            closed = placed + (self.minutes(2, 90) if self.chance(0.45) else UNPAID_CLOSE)
            return _Timeline(closed=closed) if closed <= now else None

        paid = placed + self.pay_delay()
        if paid > now:
            return None
        if status == OrderStatus.WAIT_SELLER_SEND_GOODS:
            return _Timeline(paid=paid) if now - paid < timedelta(hours=60) else None
        if status == OrderStatus.TRADE_CLOSED and self.chance(0.6):
            # Refunded before anything shipped (拍错了, 缺货 …).
            closed = paid + self.minutes(20, 30 * 60)
            return (
                _Timeline(paid=paid, closed=closed, close_kind="before") if closed <= now else None
            )

        shipped = self.ship_time(paid)
        if shipped > now:
            return None
        variant = "normal"
        if status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS:
            variant = self.rng.choices(("normal", "redeliver", "stuck"), weights=(90, 5, 5))[0]
        elif status in (OrderStatus.TRADE_FINISHED, OrderStatus.TRADE_BUYER_SIGNED):
            variant = "redeliver" if self.chance(0.04) else "normal"
        elif status == OrderStatus.TRADE_CLOSED and self.chance(0.15):
            variant = "refused"
        shipment = self.shipment(carrier, shipped, store, address, variant)
        delivered = shipment.delivered_at
        tl = _Timeline(paid=paid, shipped=shipped, shipments=[shipment])

        if status == OrderStatus.SELLER_CONSIGNED_PART:
            if now - shipped > timedelta(days=5):
                return None
            self.cut(shipment, now)
            return tl if shipment.events else None
        if status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS:
            if now >= shipped + AUTO_CONFIRM:
                return None
            self.cut(shipment, now)
            tl.signed = shipment.delivered_at
            return tl if shipment.events else None
        if variant == "refused":
            last = shipment.events[-1].at
            tl.closed = last + self.hours(2, 20)
            tl.close_kind = "refused"
            return tl if tl.closed <= now else None
        if delivered is None or delivered > now:
            return None
        tl.signed = delivered
        if status == OrderStatus.TRADE_BUYER_SIGNED:
            return tl if now < shipped + AUTO_CONFIRM else None
        if status == OrderStatus.TRADE_FINISHED:
            if self.chance(0.3):
                tl.finished = max(shipped + AUTO_CONFIRM, delivered + self.minutes(1, 5))
            else:
                tl.finished = delivered + self.minutes(20, 60 * 24 * self.rng.choice((1, 3, 6)))
            return tl if tl.finished <= now else None
        # TRADE_CLOSED after a 7-day return: the buyer sends the goods back, then the refund.
        back_at = self.next_working(delivered + self.hours(20, 100), 9, 20)
        back = self.shipment(
            self.pick(("zto", "yto", "sf", "yd")), back_at, store, address, "return"
        )
        if back.delivered_at is None:
            return None
        tl.shipments.append(back)
        tl.closed = back.delivered_at + self.hours(2, 40)
        tl.close_kind = "return"
        return tl if tl.closed <= now else None

    def pay_delay(self) -> timedelta:
        roll = self.rng.random()
        if roll < 0.7:
            return self.minutes(0.2, 3)
        if roll < 0.95:
            return self.minutes(3, 30)
        return self.minutes(30, 110)

    def ship_time(self, paid: datetime) -> datetime:
        """The warehouse ships 9:00–18:00; paid after 16:00 means the next day."""
        local = paid.astimezone(SHANGHAI)
        if local.hour < 16:
            earliest = max(local + self.hours(1, 3), local.replace(hour=10, minute=0, second=0))
            shipped = earliest + self.minutes(0, 120)
        else:
            day = local.date() + timedelta(days=1)
            shipped = datetime(day.year, day.month, day.day, 9, 30, tzinfo=SHANGHAI)
            shipped += self.minutes(0, 7 * 60)
        if self.chance(0.08):
            shipped += timedelta(days=self.rng.randint(1, 2))  # 缺货补货 or a busy day
        return shipped

    # logistics

    def tracking_no(self, carrier: str) -> str:
        makers = {
            "sf": lambda: "SF1" + self.digits(12, string.digits),
            "zto": lambda: "7" + self.pick("358") + self.digits(12, string.digits),
            "yto": lambda: "YT7" + self.digits(12, string.digits),
            "yd": lambda: self.pick(("43", "46")) + self.digits(13, string.digits),
            "jd": lambda: "JDV" + self.pick("ABCE") + self.digits(11, string.digits),
            "ems": lambda: "98" + self.digits(11, string.digits),
        }
        return self.fresh(makers[carrier])

    def shipment(
        self, carrier_key: str, start: datetime, store: GStore, address: GAddress, variant: str
    ) -> GShipment:
        """A parcel's whole journey as the carrier reports it, from pick-up to the end."""
        carrier = c.CARRIERS[carrier_key]
        _, origin_city, origin_hub = store.spec.origin
        dest = address.place
        if variant == "return":
            # The buyer sends the goods back to the shop's return warehouse.
            from_city, from_hub = dest.city, dest.short
            to_city, to_hub, to_station = origin_city, origin_hub, origin_hub
        else:
            from_city, from_hub = origin_city, origin_hub
            to_city, to_hub = dest.city, dest.short
            to_station = dest.short + address.district.removesuffix("区")
        same_city = from_city == to_city
        events: list[GEvent] = []

        def add(at: datetime, where: str, text: str, status: str) -> datetime:
            if events and at <= events[-1].at:
                at = events[-1].at + timedelta(minutes=1)
            events.append(GEvent(at, where, text, status))
            return at

        t = start + self.hours(0.8, 4)
        pick_station = f"{from_hub}{carrier.station_suffix}"
        t = add(
            t,
            from_city,
            f"【{from_city}】快件已由【{carrier.name} {pick_station}】揽收",
            "in_transit",
        )
        hub = f"{from_hub}{carrier.hub_suffix}"
        t = add(t + self.hours(2, 5), from_city, f"快件已到达【{hub}】", "in_transit")
        if same_city:
            next_stop = f"{to_station}{carrier.station_suffix}"
        else:
            next_stop = f"{to_hub}{carrier.hub_suffix}"
        t = add(
            t + self.hours(1, 3),
            from_city,
            f"快件已从【{hub}】发出，准备发往【{next_stop}】",
            "in_transit",
        )
        if not same_city:
            span = {0: (6, 14), 1: (16, 30), 2: (28, 50), 3: (48, 80)}[dest.distance]
            speed = 0.7 if carrier_key == "jd" else 0.8 if carrier_key == "sf" else 1.0
            t = add(
                t + self.hours(span[0] * speed, span[1] * speed),
                to_city,
                f"快件已到达【{next_stop}】",
                "in_transit",
            )
            station = f"{to_station}{carrier.station_suffix}"
            t = add(
                t + self.hours(1, 3),
                to_city,
                f"快件已从【{next_stop}】发出，准备发往【{station}】",
                "in_transit",
            )
        station = f"{to_station}{carrier.station_suffix}"
        t = add(t + self.hours(2, 6), to_city, f"快件已到达【{station}】", "in_transit")

        if variant == "return":
            t = self.next_working(t + self.hours(1, 4), 9, 18)
            t = add(
                t,
                to_city,
                f"【{to_city}】快件已签收，签收人：栖木售后仓，感谢使用{carrier.name}",
                "delivered",
            )
            return self.finish_shipment(carrier, start, events, delivered=t, is_return=True)

        courier = f"{self.pick(c.COURIER_SURNAMES)}师傅"
        t = add(
            self.next_working(t + self.minutes(30, 120), 8, 18),
            to_city,
            f"【{to_city}】快递员{courier}正在派件，请保持电话畅通",
            "out_for_delivery",
        )
        if variant == "stuck":
            reason = self.pick(
                (
                    "派送异常：收件地址不详，无法派送，请联系寄件人核实地址",
                    "派送异常：收件人电话无法接通，快件滞留网点",
                )
            )
            add(t + self.hours(1, 4), to_city, f"【{to_city}】{reason}", "exception")
            return self.finish_shipment(carrier, start, events, delivered=None)
        if variant == "refused":
            t = add(
                t + self.hours(1, 4),
                to_city,
                f"【{to_city}】收件人拒收，快件将退回寄件人",
                "exception",
            )
            t = add(
                t + self.hours(30, 70),
                origin_city,
                f"退回件已到达【{origin_hub}{carrier.hub_suffix}】",
                "in_transit",
            )
            add(t + self.hours(4, 20), origin_city, "退回件已签收，签收人：栖木仓库", "returned")
            return self.finish_shipment(carrier, start, events, delivered=None, returned=True)
        if variant == "redeliver":
            t = add(
                t + self.hours(1, 4),
                to_city,
                f"【{to_city}】派送异常：收件人电话无人接听，快件将于次日再次派送",
                "exception",
            )
            day = t.astimezone(SHANGHAI).date() + timedelta(days=1)
            t = datetime(day.year, day.month, day.day, 8, tzinfo=SHANGHAI) + self.minutes(0, 150)
            t = add(
                t,
                to_city,
                f"【{to_city}】快递员{courier}正在派件（第二次派送）",
                "out_for_delivery",
            )
        roll = self.rng.random()
        if roll < 0.5:
            who = "本人签收"
        elif roll < 0.75:
            locker = self.pick(c.PARCEL_LOCKERS)
            place = f"{address.community}{locker}"
            t = add(
                t + self.minutes(20, 200),
                to_city,
                f"【{to_city}】快件已存放至【{place}】，请凭取件码及时取件",
                "out_for_delivery",
            )
            t += self.hours(1, 30)
            who = f"凭取件码签收（{locker}）"
        elif roll < 0.9:
            who = "家人代收"
        else:
            who = self.pick(("前台代收", "门卫代收"))
        t = add(
            t + self.minutes(20, 300),
            to_city,
            f"【{to_city}】快件已签收，签收人：{who}。感谢使用{carrier.name}，期待再次为您服务",
            "delivered",
        )
        return self.finish_shipment(carrier, start, events, delivered=t)

    def finish_shipment(
        self,
        carrier: c.Carrier,
        start: datetime,
        events: list[GEvent],
        *,
        delivered: datetime | None,
        is_return: bool = False,
        returned: bool = False,
    ) -> GShipment:
        key = next(k for k, v in c.CARRIERS.items() if v is carrier)
        status = ShipmentStatus.delivered.value if delivered else events[-1].status
        if returned:
            status = ShipmentStatus.returned.value
        return GShipment(
            carrier=carrier.name,
            tracking_no=self.tracking_no(key),
            status=status,
            shipped_at=start,
            delivered_at=delivered,
            events=events,
            is_return=is_return,
        )

    def cut(self, shipment: GShipment, now: datetime) -> None:
        """Keep only what the carrier has reported by now."""
        shipment.events = [e for e in shipment.events if e.at <= now]
        if not shipment.events:
            shipment.status = ShipmentStatus.pending.value
            shipment.delivered_at = None
            return
        shipment.status = shipment.events[-1].status
        if shipment.status != ShipmentStatus.delivered:
            shipment.delivered_at = None

    # refunds and after-sales

    def close_refunds(self, order: GOrder, kind: str) -> None:
        assert order.closed_at is not None
        if kind == "before":
            reasons: Sequence[str] = c.REFUND_REASONS_BEFORE_SHIPPING
        elif kind == "refused":
            reasons = ("拒收退款",)
        else:
            clothing = order.items[0].sku.product.spec.is_clothing
            reasons = c.REFUND_REASONS_CLOTHING if clothing else c.REFUND_REASONS_APPLIANCE
        reason = self.pick(reasons)
        for item in order.items:
            item.refund_status = RefundStatus.SUCCESS.value
            order.refunds.append(
                self.refund(order, item, item.paid_amount, reason, order.closed_at)
            )
        if order.shipping_fee:
            order.refunds.append(
                self.refund(order, None, order.shipping_fee, "运费退款", order.closed_at)
            )

    def refund(
        self, order: GOrder, item: GItem | None, amount: Decimal, reason: str, at: datetime
    ) -> GRefund:
        key = self.fresh(lambda: f"demo-refund-{self.digits(15)}")
        return GRefund(item=item, amount=amount, reason=reason, key=key, created_at=at)

    def after_sales(self, orders: list[GOrder]) -> None:
        """Partial refunds that went through, after-sales still open, and agents' order notes."""
        now = self.now
        multi = [
            o
            for o in orders
            if o.status in (OrderStatus.TRADE_FINISHED, OrderStatus.WAIT_BUYER_CONFIRM_GOODS)
            and o.signed_at is not None
            and len(o.items) >= 2
        ]
        for order in self.rng.sample(multi, min(45, len(multi))):
            assert order.signed_at is not None
            at = order.signed_at + self.hours(20, 140)
            if at > now:
                continue
            item = self.pick(order.items)
            item.refund_status = RefundStatus.SUCCESS.value
            clothing = item.sku.product.spec.is_clothing
            reason = self.pick(
                c.REFUND_REASONS_CLOTHING if clothing else c.REFUND_REASONS_APPLIANCE
            )
            order.refunds.append(self.refund(order, item, item.paid_amount, reason, at))
            order.notes.append(("阿杰", self.pick(c.ORDER_NOTES_AFTERSALES), at))

        waiting = [o for o in orders if o.status == OrderStatus.WAIT_SELLER_SEND_GOODS]
        for order in self.rng.sample(waiting, 8):
            order.items[0].refund_status = RefundStatus.WAIT_SELLER_AGREE.value
        unsigned = [
            o
            for o in orders
            if o.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS and o.signed_at is None
        ]
        for order in self.rng.sample(unsigned, 6):
            order.items[0].refund_status = RefundStatus.WAIT_SELLER_AGREE.value
        recent = [
            o
            for o in orders
            if o.signed_at is not None
            and o.status != OrderStatus.TRADE_CLOSED
            and now - o.signed_at < timedelta(days=10)
            and all(i.refund_status is None for i in o.items)
        ]
        open_states = (
            [RefundStatus.WAIT_SELLER_AGREE] * 4
            + [RefundStatus.WAIT_BUYER_RETURN_GOODS] * 8
            + [RefundStatus.WAIT_SELLER_CONFIRM_GOODS] * 6
            + [RefundStatus.SELLER_REFUSE_BUYER] * 4
            + [RefundStatus.CLOSED] * 5
        )
        for order, state in zip(
            self.rng.sample(recent, len(open_states)), open_states, strict=True
        ):
            self.pick(order.items).refund_status = state.value

        # Agents' notes on orders that needed a hand.
        for order in orders:
            if order.status == OrderStatus.WAIT_SELLER_SEND_GOODS and self.chance(0.15):
                assert order.paid_at is not None
                at = min(order.paid_at + self.minutes(10, 600), now)
                order.notes.append(
                    (self.pick(("小美", "小雨")), self.pick(c.ORDER_NOTES_WAITING), at)
                )
            for shipment in order.shipments:
                if shipment.status == ShipmentStatus.exception and not shipment.is_return:
                    at = min(shipment.events[-1].at + self.minutes(20, 180), now)
                    order.notes.append(("阿杰", self.pick(c.ORDER_NOTES_EXCEPTION), at))
            if (
                order.status == OrderStatus.WAIT_BUYER_CONFIRM_GOODS
                and order.shipped_at
                and self.chance(0.05)
            ):
                at = min(order.shipped_at + self.hours(20, 70), now)
                order.notes.append(("小雨", self.pick(c.ORDER_NOTES_SHIPPED), at))
            if order.status == OrderStatus.TRADE_CLOSED and len(order.shipments) > 1:
                back = order.shipments[1]
                assert back.delivered_at is not None
                order.notes.append(("阿杰", "退货已签收，质检无误后退款", back.delivered_at))

    def duplicates(self, orders: list[GOrder]) -> list[GOrder]:
        """The same buyer buys the same SKU again within days (duplicate-purchase checks)."""
        candidates = [
            o
            for o in orders
            if o.status in (OrderStatus.TRADE_FINISHED, OrderStatus.WAIT_BUYER_CONFIRM_GOODS)
        ]
        self.rng.shuffle(candidates)
        made: list[GOrder] = []
        seen: set[int] = set()
        for first in candidates:
            if len(made) == N_DUPLICATES:
                break
            if id(first.customer) in seen:
                continue
            placed = first.placed_at + self.minutes(60 * 3, 60 * 24 * 3)
            for status in (
                first.status,
                OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
                OrderStatus.WAIT_SELLER_SEND_GOODS,
            ):
                second = self.order(
                    first.customer, status, [self.item(first.items[0].sku)], placed=placed
                )
                if second is not None:
                    seen.add(id(first.customer))
                    made.append(second)
                    break
        return made

    # reviews

    def reviews(self, orders: list[GOrder]) -> list[GReview]:
        candidates = [
            o
            for o in orders
            if o.status == OrderStatus.TRADE_FINISHED
            and any(i.refund_status is None for i in o.items)
        ]
        chosen = self.rng.sample(candidates, N_REVIEWS)
        moods = [m for m, n in REVIEW_MIX.items() for _ in range(n)]
        self.rng.shuffle(moods)
        reviews: list[GReview] = []
        for order, mood in zip(chosen, moods, strict=True):
            assert order.finished_at is not None
            item = self.pick([i for i in order.items if i.refund_status is None])
            room = (self.now - order.finished_at).total_seconds()
            at = order.finished_at + timedelta(
                seconds=int(self.rng.uniform(0, min(room, 5 * 86400)))
            )
            text, about_logistics = self.review_text(mood, item, order.customer)
            if mood == "pos":
                rating = 5 if self.chance(0.8) else 4
                reply = self.pick(c.REPLIES_POSITIVE) if self.chance(0.3) else ""
            elif mood == "neu":
                rating = 3
                reply = self.pick(c.REPLIES_POSITIVE[2:]) if self.chance(0.2) else ""
            else:
                rating = 1 if self.chance(0.55) else 2
                reply = ""
                if self.chance(0.7):
                    reply = (
                        c.REPLIES_NEGATIVE[2]
                        if about_logistics
                        else self.pick(c.REPLIES_NEGATIVE[:2])
                    )
            tmall = order.store.spec.platform == "tmall"
            reviews.append(
                GReview(
                    store=order.store,
                    order=order,
                    item=item,
                    external_id=self.fresh(
                        (lambda: self.digits(13)) if tmall else (lambda: self.digits(11))
                    ),
                    rating=rating,
                    sentiment=mood,
                    content=text,
                    reviewed_at=at,
                    reply=reply,
                )
            )
        return reviews

    def review_text(self, mood: str, item: GItem, customer: GCustomer) -> tuple[str, bool]:
        """A review as buyers write them: what they liked or not, fit, delivery, service."""
        spec = item.sku.product.spec
        kind = c.REVIEW_KIND[spec.kind]
        general = c.REVIEW_APPLIANCE
        if spec.is_clothing:
            # "Slims the figure" is fine for a dress, odd for socks: those keep to their own.
            general = {} if spec.kind in c.OWN_WORDS_ONLY else c.REVIEW_CLOTHING
        used: set[str] = set()

        def take(*pools: Sequence[str]) -> str:
            # Nobody writes the same sentence twice in one review.
            options = [p for pool in pools for p in pool if p not in used]
            choice = self.pick(options) if options else ""
            used.add(choice)
            return choice

        parts: list[str] = []
        about_logistics = False
        if self.chance(0.3):
            parts.append(take(c.REVIEW_OPENERS[mood]))
        if mood == "neu":
            parts.append(take(kind["pos"], general.get("pos", ())[:4]))
            meh = take(kind["neu"], general.get("neu", ()))
            parts.append(meh if "就是" in meh else self.pick(("就是", "不过", "但是")) + meh)
        else:
            for _ in range(self.rng.choice((1, 1, 2))):
                parts.append(take(kind[mood]))
        fit = self.fit(mood, item, customer)
        if fit and self.chance(0.55):
            parts.append(fit)
        if general and self.chance(0.45):
            parts.append(take(general[mood]))
        if self.chance(0.4 if mood != "neg" else 0.25):
            parts.append(take(c.REVIEW_LOGISTICS[mood]))
            about_logistics = mood == "neg"
        if self.chance(0.18):
            parts.append(take(c.REVIEW_SERVICE[mood]))
        text = ""
        for part in filter(None, parts):
            if text:
                text += "。" if self.chance(0.3) else "，"
            text += part
        if self.chance(0.6):
            text += ("。" if self.chance(0.4) else "，") + self.pick(c.REVIEW_CLOSERS[mood])
        if text[-1] not in "！。":
            text += "。"
        return text.format(color=item.sku.color, size=item.sku.size), about_logistics

    def fit(self, mood: str, item: GItem, customer: GCustomer) -> str:
        """'165cm，100斤，买的M码刚刚好' — from the buyer, or whoever the buyer bought for."""
        spec = item.sku.product.spec
        if spec.kind in ("socks", "accessory") or not spec.is_clothing:
            return ""
        if spec.kind == "shoes":
            table: dict[str, tuple[str, ...]] = {
                "pos": c.SHOE_FIT_GOOD,
                "neu": c.SHOE_FIT_MEH,
                "neg": c.SHOE_FIT_BAD,
            }
            return f"平时穿{item.sku.size}码，这双{self.pick(table[mood])}"
        wearer, prefix = customer.gender, ""
        if spec.category.startswith("女装") and customer.gender == "male":
            wearer, prefix = "female", self.pick(("给老婆买的，她", "给女朋友买的，她"))
        elif spec.category.startswith("男装") and customer.gender == "female":
            wearer, prefix = (
                "male",
                self.pick(("给老公买的，他", "给男朋友买的，他", "给爸爸买的，他")),
            )
        height, weight = self.body(wearer, item.sku.size)
        sizes: dict[str, tuple[str, ...]] = {"pos": c.FIT_GOOD, "neu": c.FIT_MEH, "neg": c.FIT_BAD}
        return f"{prefix}{height}cm，{weight}斤，买的{item.sku.size}码{self.pick(sizes[mood])}"

    def body(self, gender: str, size: str) -> tuple[int, int]:
        """Height (cm) and weight (斤) of someone who would pick `size`."""
        female = gender == "female"
        letters = ("S", "M", "L", "XL", "XXL", "XXXL")
        if size in letters:
            step = letters.index(size)
            weight = (88 if female else 112) + step * (11 if female else 14)
        elif size.isdigit() and int(size) >= 38:  # shirt collar in cm
            weight = 112 + (int(size) - 38) * 9
        elif size.isdigit():  # waist in inches
            weight = (88 if female else 104) + (int(size) - 25) * (6 if female else 7)
        else:
            weight = 100 if female else 135
        height = self.rng.randint(155, 170) if female else self.rng.randint(166, 184)
        return height, weight + self.rng.randint(-5, 6)

    # customer profiles, once their orders are known

    def profiles(
        self, customers: list[GCustomer], orders: list[GOrder], reviews: list[GReview]
    ) -> list[GCustomerNote]:
        now = self.now
        by_customer: dict[int, list[GOrder]] = defaultdict(list)
        for order in orders:
            by_customer[id(order.customer)].append(order)
        review_count = Counter(id(r.order.customer) for r in reviews)
        complained = {
            id(r.order.customer) for r in reviews if r.sentiment == "neg" and self.chance(0.4)
        }
        for order in orders:
            if any(i.refund_status == RefundStatus.SELLER_REFUSE_BUYER for i in order.items):
                complained.add(id(order.customer))

        spend: dict[int, Decimal] = {}
        for cu in customers:
            mine = by_customer[id(cu)]
            spend[id(cu)] = sum((o.paid_amount - o.refunded_amount for o in mine), Decimal("0"))
            if mine:
                first = min(o.placed_at for o in mine)
                back = (
                    self.minutes(1, 30)
                    if self.chance(0.3)
                    else timedelta(days=self.rng.randint(1, 700))
                )
                cu.first_seen_at = first - back
            else:
                cu.first_seen_at = now - self.hours(2, 24 * 30)
            tags: list[str] = []
            if sum(1 for o in mine if o.paid_at) >= 6:
                tags.append("回头客")
            if review_count[id(cu)] >= 3:
                tags.append("爱写评价")
            if id(cu) in complained:
                tags.append("曾投诉")
            for tag, p in c.RANDOM_TAGS:
                if len(tags) < 4 and self.chance(p):
                    tags.append(tag)
            cu.tags = tags

        ranked = sorted(customers, key=lambda cu: spend[id(cu)], reverse=True)
        for cu in ranked[:6]:
            cu.tier = CustomerTier.svip.value
        for cu in self.rng.sample(ranked[6:90], 30):
            cu.tier = CustomerTier.vip.value

        for cu in self.rng.sample(customers, 26):
            cu.note = self.pick(c.CUSTOMER_PROFILE_NOTES)
        notes: list[GCustomerNote] = []
        for cu in self.rng.sample(customers, 30):
            author = self.pick(("xiaomei", "ajie", "xiaoyu", "supervisor"))
            at = now - self.hours(1, 24 * 45)
            notes.append(GCustomerNote(cu, author, self.pick(c.AGENT_NOTES), at))
        return notes


def generate(now: datetime, seed: int = SEED) -> DemoData:
    """The whole demo shop as it stands at `now` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return DemoGenerator(now, seed).run()
