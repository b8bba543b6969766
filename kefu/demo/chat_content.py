"""What the demo shop's customer service has been doing: FAQ, chats and after-sales cases.

Plain data, read by `kefu.demo.service_history`. A chat is a script of steps at minutes after
it began; the demo stores run the bot first, so every customer line goes to the bot while it
still holds the chat, and what it says back is the real bot's answer, not scripted here.
Text may name the buyer's order with `{order_no}`, `{title}`, `{sku}`, `{carrier}`,
`{tracking}` and `{city}`: a chat whose `who` is a `Buyer` is about one of their real orders.
"""

from __future__ import annotations

from dataclasses import dataclass

from kefu.aftersales.enums import RequestKind, RequestReason
from kefu.store.enums import OrderStatus

# --- knowledge base -----------------------------------------------------------------------


@dataclass(frozen=True)
class FaqSpec:
    key: str  # the shop's own id, which the bot labels its answers with (faq:<key>)
    category: str
    question: str
    similar: tuple[str, ...]
    answer: str


FAQS: tuple[FaqSpec, ...] = (
    FaqSpec(
        "ship-time",
        "发货物流",
        "什么时候发货？",
        ("付款后多久发货", "今天下单今天能发吗", "几天能发货"),
        "亲，现货商品付款后 48 小时内发出，每天 16:00 前付款的订单当天发货；"
        "预售商品以商品页标注的发货时间为准哦～",
    ),
    FaqSpec(
        "carrier",
        "发货物流",
        "默认发什么快递？",
        ("你们发哪家快递", "可以发顺丰吗", "能指定快递吗"),
        "天猫店默认发中通或圆通，京东店由京东物流配送。需要顺丰的亲请在订单备注，"
        "补 12 元运费差价即可。",
    ),
    FaqSpec(
        "remote-area",
        "发货物流",
        "偏远地区能发货吗？",
        ("新疆西藏能发吗", "偏远地区包邮吗", "能寄到海外吗"),
        "新疆、西藏、青海、内蒙古可以发货，需补运费 15 元，时效 5–7 天；暂不支持寄往港澳台及海外。",
    ),
    FaqSpec(
        "size-advice",
        "尺码",
        "尺码怎么选？",
        ("身高体重穿什么码", "尺码偏大还是偏小", "我该拍哪个码"),
        "每件商品详情页都有尺码表，可按身高体重参考；我们的版型正常偏宽松，介于两个尺码之间"
        "建议选小一码，喜欢宽松效果选大一码。告诉我身高体重也可以帮您推荐哦～",
    ),
    FaqSpec(
        "return-7days",
        "退换货",
        "支持七天无理由退货吗？",
        ("可以退货吗", "不喜欢能退吗", "穿着不合适能退吗"),
        "支持的亲～签收后 7 天内，吊牌完好、未穿着洗涤的商品可以七天无理由退换；"
        "定制款和拆封的贴身衣物（内衣、袜子）除外。在订单页点「申请售后」即可。",
    ),
    FaqSpec(
        "return-fee",
        "退换货",
        "退货运费谁出？",
        ("退货邮费谁承担", "退货要自己出运费吗", "有运费险吗"),
        "七天无理由退货的寄回运费由买家承担，下单时买了运费险的会自动理赔；"
        "质量问题或发错货，来回运费都由我们承担。",
    ),
    FaqSpec(
        "exchange-size",
        "退换货",
        "可以换尺码吗？",
        ("买小了能换大一码吗", "能换个颜色吗", "换货怎么操作"),
        "可以的～签收 7 天内吊牌完好即可换货：在订单页点「申请售后 → 换货」选好新尺码或颜色，"
        "仓库收到寄回的商品后 24 小时内发出新的。",
    ),
    FaqSpec(
        "refund-time",
        "退换货",
        "退款多久到账？",
        ("退款什么时候到", "钱怎么还没退回来", "退款退到哪里"),
        "仓库验货通过后当天退款，原路退回：支付宝、微信一般即时到账，银行卡 1–3 个工作日。",
    ),
    FaqSpec(
        "quality-issue",
        "退换货",
        "收到的衣服有质量问题怎么办？",
        ("衣服开线了", "衣服上有污渍", "有瑕疵能退吗"),
        "非常抱歉给您添麻烦了！请拍下问题处的照片，在订单页申请售后并选择「质量问题」，"
        "来回运费由我们承担，可退可换。",
    ),
    FaqSpec(
        "price-protect",
        "优惠活动",
        "买贵了可以补差价吗？",
        ("降价了能退差价吗", "你们保价吗", "刚买就降价了"),
        "下单后 7 天内同款同规格降价，可以在订单页「申请价保」，差价原路退回；"
        "直播间专享价和满减叠加后的价格不参与价保哦。",
    ),
    FaqSpec(
        "membership",
        "优惠活动",
        "怎么成为会员？",
        ("会员有什么优惠", "积分怎么用", "VIP 怎么升级"),
        "关注店铺并下单即成为会员；累计消费满 2000 元自动升级 VIP，享 95 折和生日礼券。"
        "积分 100 分可抵 1 元，下单时勾选使用即可。",
    ),
    FaqSpec(
        "invoice",
        "发票",
        "可以开发票吗？",
        ("发票怎么开", "能开公司抬头的发票吗", "能开专票吗"),
        "支持开具电子普通发票：确认收货后在订单页「申请开票」填写抬头和税号，"
        "1–3 个工作日发送到您的邮箱。需要专票请联系人工客服。",
    ),
    FaqSpec(
        "wash-care",
        "商品",
        "衣服怎么洗？",
        ("羊毛衫能机洗吗", "会不会缩水", "洗了会褪色吗"),
        "羊毛、真丝类建议冷水手洗或干洗，不要拧干，平铺阴干；纯棉类可以机洗（30℃ 以下），"
        "首次洗涤请深浅色分开。每件衣服的洗标上都有具体说明。",
    ),
    FaqSpec(
        "restock",
        "商品",
        "断码了还会补货吗？",
        ("什么时候补货", "没有我的尺码了", "缺货的什么时候有"),
        "热卖款一般 1–2 周补货，可以在商品页点「到货通知」，补货后第一时间提醒您～",
    ),
    FaqSpec(
        "gift-wrap",
        "商品",
        "可以礼盒包装吗？",
        ("有礼盒吗", "送人能写贺卡吗", "发货单会显示价格吗"),
        "可以的～下单时备注「礼盒包装」和贺卡内容，免费提供礼盒和手写贺卡，发货单不显示价格。",
    ),
)


# --- chats ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """The customer writes; the bot answers if it still holds the chat."""

    minute: float
    text: str


@dataclass(frozen=True)
class Reply:
    minute: float
    agent: str  # username
    text: str


@dataclass(frozen=True)
class Note:
    """An internal note; `@显示名` in it mentions that colleague."""

    minute: float
    agent: str
    text: str


@dataclass(frozen=True)
class Assign:
    minute: float
    by: str
    to: str


@dataclass(frozen=True)
class Snooze:
    """Until 9:00 the next morning, shop time."""

    minute: float
    agent: str


@dataclass(frozen=True)
class Resolve:
    minute: float
    agent: str


@dataclass(frozen=True)
class Rate:
    """The customer answers the CSAT survey sent when an agent resolved the chat."""

    minute: float
    score: int
    comment: str = ""


@dataclass(frozen=True)
class RateBot:
    """The customer's 👍 (+1) or 👎 (-1) on the bot's last answer in this chat."""

    minute: float
    rating: int


@dataclass(frozen=True)
class OpenCase:
    """An agent opens the after-sales case `key` (in CASES) from this chat, on its order."""

    minute: float
    agent: str
    key: str


Step = Say | Reply | Note | Assign | Snooze | Resolve | Rate | RateBot | OpenCase


@dataclass(frozen=True)
class Visitor:
    name: str


@dataclass(frozen=True)
class Buyer:
    """A customer of the store, asking about one of their orders in one of `statuses`."""

    statuses: tuple[OrderStatus, ...]
    vip: bool = False


@dataclass(frozen=True)
class ChatSpec:
    store: str  # store code
    hours_ago: float  # when the chat began
    who: Visitor | Buyer
    steps: tuple[Step, ...]
    channel: str = "web"


_S = OrderStatus
UNSHIPPED = (_S.WAIT_SELLER_SEND_GOODS,)
ON_THE_WAY = (_S.WAIT_BUYER_CONFIRM_GOODS,)
RECEIVED = (_S.TRADE_BUYER_SIGNED, _S.TRADE_FINISHED)

CHATS: tuple[ChatSpec, ...] = (
    # --- waiting for a person: the bot handed over, nobody has picked them up yet -----------
    ChatSpec(
        "tmall-flagship",
        0.35,
        Visitor("小鹿乱撞"),
        (
            Say(0, "在吗"),
            Say(1, "那件羊毛双面呢大衣还有S码的燕麦色吗"),
            Say(3, "转人工"),
        ),
    ),
    ChatSpec(
        "tmall-flagship",
        0.2,
        Buyer(UNSHIPPED),
        (
            Say(0, "订单{order_no}怎么还没发货啊"),
            Say(2, "我周末要穿的，能不能今天发出，我要找人工客服"),
        ),
        channel="h5",
    ),
    ChatSpec(
        "jd-store",
        0.6,
        Buyer(ON_THE_WAY),
        (
            Say(0, "我的快递到哪了"),
            Say(4, "物流三天没更新了，你们服务太差了，我要投诉"),
        ),
    ),
    ChatSpec(
        "tmall-flagship",
        0.12,
        Visitor("Amy_2016"),
        (
            Say(0, "165 110斤穿什么码"),
            Say(2, "平时穿M的，这款羽绒服想穿宽松一点要拍L吗"),
            Say(3, "转人工"),
        ),
        channel="h5",
    ),
    ChatSpec(
        "jd-store",
        0.08,
        Buyer(RECEIVED, vip=True),
        (
            Say(0, "你好，{title}收到了，颜色比图片深，想换个浅一点的颜色"),
            Say(2, "我是你们家老客户了，麻烦给我转人工处理一下"),
        ),
    ),
    # --- with an agent ------------------------------------------------------------------------
    ChatSpec(
        "tmall-flagship",
        1.6,
        Buyer(ON_THE_WAY),
        (
            Say(0, "帮我查下订单{order_no}的物流"),
            Say(3, "显示到{city}了但是一直没派送，转人工"),
            Reply(
                9,
                "xiaomei",
                "亲，小美在的～已帮您查到{carrier}单号 {tracking}，"
                "今天在{city}网点派送中，我这边也给网点留言催一下哦。",
            ),
            Say(12, "好的，那大概几点能到"),
            Reply(14, "xiaomei", "网点说下午六点前会送到，您留意下电话～"),
            Say(70, "还是没到啊，快递员电话也打不通"),
        ),
    ),
    ChatSpec(
        "tmall-flagship",
        2.8,
        Visitor("一颗小土豆"),
        (
            Say(0, "这款纯棉衬衫会不会缩水"),
            Say(2, "想给我爸买，他175 150斤，转人工帮我看下尺码"),
            Reply(6, "xiaomei", "您好～175cm/150斤建议拍 XL 码，肩宽 47cm，穿着不会紧。"),
            Say(8, "那蓝色和白色哪个更显年轻一点"),
            Reply(
                10,
                "xiaomei",
                "浅蓝色更显精神哦，很多顾客买给爸爸都选这个颜色～首次洗涤冷水洗不会缩水的，放心。",
            ),
        ),
    ),
    ChatSpec(
        "jd-store",
        2.2,
        Buyer(RECEIVED),
        (
            Say(0, "收到的{title}袖口开线了"),
            Say(2, "我要人工"),
            Assign(6, "supervisor", "ajie"),
            Reply(
                7,
                "ajie",
                "非常抱歉给您添麻烦了！麻烦拍一下开线位置的照片发给阿杰看看，"
                "确认是质量问题我们承担来回运费。",
            ),
            Say(12, "照片发不上来，就是左边袖口缝线脱了两三厘米"),
            Note(
                14,
                "ajie",
                "@林雪 顾客说袖口开线，照片传不上来，要不要先按质量问题给她退？订单 {order_no}",
            ),
            OpenCase(16, "ajie", "quality-chat"),
            Reply(
                17,
                "ajie",
                "已经帮您提交了质量问题的退货申请，审核通过后会把退货地址发给您，运费我们出～",
            ),
        ),
    ),
    ChatSpec(
        "tmall-flagship",
        4.5,
        Buyer(UNSHIPPED),
        (
            Say(0, "地址写错了怎么改"),
            Say(2, "转人工"),
            Reply(5, "xiaomei", "亲，订单还没发出可以改的，请把新的收货地址和电话发给小美～"),
            Say(8, "改成公司地址：{city}科技园 3 号楼前台，电话不变"),
            Reply(11, "xiaomei", "好的，已经给仓库备注了新地址，发货前会再核对一次，您放心～"),
            Note(
                12,
                "xiaomei",
                "@阿杰 这个订单 {order_no} 改了地址，仓库要是已经打单了麻烦帮忙拦截一下",
            ),
        ),
    ),
    ChatSpec(
        "jd-store",
        0.9,
        Buyer(RECEIVED),
        (
            Say(0, "退货寄回去了，快递单号填在哪里"),
            Say(2, "人工"),
            Assign(4, "supervisor", "ajie"),
            Reply(
                5,
                "ajie",
                "您好～在订单页「售后详情」里点「填写退货单号」就可以，"
                "也可以直接把单号发给我，我帮您录入。",
            ),
            Say(9, "中通 78 开头那个，我晚点拍照片发你"),
        ),
    ),
    # --- snoozed until the morning --------------------------------------------------------
    ChatSpec(
        "tmall-flagship",
        20,
        Buyer(RECEIVED),
        (
            Say(0, "灰色M码什么时候补货"),
            Say(2, "能不能到货了直接通知我"),
            Say(3, "转人工"),
            Say(5, "好的谢谢"),
            Reply(8, "xiaomei", "亲，仓库说灰色 M 码周四到货，到了小美第一时间联系您哦～"),
            Snooze(9, "xiaomei"),
        ),
    ),
    ChatSpec(
        "jd-store",
        26,
        Buyer(RECEIVED),
        (
            Say(0, "刚买两天就降价了50，能补差价吗"),
            Say(2, "转人工客服"),
            Reply(
                9,
                "ajie",
                "您好，已经帮您提交价保申请了，财务明天上午统一处理，处理好我在这里告诉您～",
            ),
            Snooze(10, "ajie"),
        ),
    ),
    # --- resolved, most with the customer's rating ----------------------------------------------
    ChatSpec(
        "tmall-flagship",
        30,
        Buyer(ON_THE_WAY),
        (
            Say(0, "我的快递到哪了"),
            Say(2, "转人工"),
            Reply(
                5, "xiaomei", "亲，您的{carrier}包裹 {tracking} 已到{city}转运中心，预计明天送达～"
            ),
            Say(7, "好的谢谢"),
            Resolve(9, "xiaomei"),
            Rate(11, 5, "回复很快，小美很耐心"),
        ),
    ),
    ChatSpec(
        "tmall-flagship",
        52,
        Visitor("吃饱了再减肥"),
        (
            Say(0, "羊毛衫能机洗吗"),
            RateBot(1, 1),
            Say(2, "买两件能便宜点吗"),
            Say(3, "转人工"),
            Reply(6, "xiaoyu", "亲，现在店铺满 399 减 40，两件正好可以用，还送洗衣袋哦～"),
            Say(9, "好的我去下单了"),
            Resolve(12, "xiaoyu"),
            Rate(14, 5),
        ),
        channel="h5",
    ),
    ChatSpec(
        "jd-store",
        60,
        Buyer(RECEIVED),
        (
            Say(0, "我要退货"),
            Say(2, "转人工"),
            Reply(
                6,
                "ajie",
                "您好，{title}签收 7 天内吊牌完好就可以退，在订单页申请售后选「七天无理由」即可。",
            ),
            Say(10, "申请好了，运费险会赔吗"),
            Reply(12, "ajie", "会的，退货签收后运费险自动理赔到您的账户～"),
            Resolve(15, "ajie"),
            Rate(18, 4, "解决了，就是排队有点久"),
        ),
    ),
    ChatSpec(
        "tmall-flagship",
        75,
        Buyer(RECEIVED),
        (
            Say(0, "退款什么时候到账"),
            RateBot(1, -1),
            Say(3, "我是说我上周退的那件，到现在还没收到钱，转人工"),
            Reply(
                9, "xiaoyu", "亲，查到您的退货仓库昨天已签收，今天验货后就会退款，原路退回支付宝～"
            ),
            Say(12, "行吧，希望快点"),
            Resolve(20, "xiaoyu"),
            Rate(25, 3, "退款太慢了"),
        ),
    ),
    ChatSpec(
        "jd-store",
        90,
        Buyer(RECEIVED),
        (
            Say(0, "衣服洗了一次就起球了，你们这质量太差了"),
            Say(2, "我要投诉"),
            Reply(
                10, "ajie", "非常抱歉给您带来不好的体验，麻烦发一下起球部位的照片，我马上帮您处理。"
            ),
            Say(30, "算了不想弄了，以后不买了"),
            Reply(
                32, "ajie", "真的很抱歉，已经给您申请了 20 元无门槛券作为补偿，如需退货随时找我。"
            ),
            Resolve(40, "ajie"),
            Rate(60, 2, "问题没解决"),
        ),
    ),
    ChatSpec(
        "tmall-flagship",
        100,
        Buyer(RECEIVED),
        (
            Say(0, "可以开发票吗"),
            Say(2, "要开公司抬头的专票，转人工"),
            Reply(
                7, "xiaomei", "亲，专票需要提供公司名称、税号、地址电话和开户行，发给小美就可以～"
            ),
            Say(15, "发你邮箱了，抬头是杭州云栖信息科技有限公司"),
            Reply(18, "xiaomei", "收到，已提交财务，3 个工作日内寄出纸质专票～"),
            Resolve(20, "xiaomei"),
            Rate(30, 5, "专业"),
        ),
    ),
    ChatSpec(
        "jd-store",
        120,
        Visitor("jd_小狮子"),
        (
            Say(0, "京东物流能送到乡镇吗"),
            Say(2, "转人工"),
            Reply(4, "xiaoyu", "可以的亲，京东物流覆盖全国乡镇，一般 2–3 天送达～"),
            Resolve(10, "xiaoyu"),
        ),
    ),
    ChatSpec(
        "tmall-flagship",
        130,
        Buyer(RECEIVED),
        (
            Say(0, "我买的{title}穿着有点大，想换小一码"),
            Say(2, "转人工"),
            Reply(6, "xiaomei", "亲，可以换的～小美已经帮您登记了换货，寄回后 24 小时内发出新的。"),
            Say(9, "太好了谢谢"),
            Resolve(11, "xiaomei"),
            Rate(13, 5, "服务很好"),
        ),
    ),
    # --- the bot alone ------------------------------------------------------------------------
    ChatSpec(
        "tmall-flagship",
        0.5,
        Visitor("Coco"),
        (Say(0, "今天下单今天能发吗"), RateBot(1, 1)),
    ),
    ChatSpec(
        "jd-store",
        1.2,
        Visitor("阿星"),
        (Say(0, "可以开发票吗"), Say(3, "能开公司抬头吗")),
    ),
    ChatSpec(
        "tmall-flagship",
        3.5,
        Visitor("小太阳"),
        (Say(0, "你们这个大衣零下十度能穿吗"), Say(2, "会不会掉毛")),
        channel="h5",
    ),
    ChatSpec(
        "tmall-flagship",
        28,
        Visitor("橙子"),
        (Say(0, "退货运费谁出"), RateBot(1, 1), Say(3, "谢谢"), Resolve(30, "supervisor")),
    ),
    ChatSpec(
        "jd-store",
        40,
        Visitor("不吃香菜"),
        (Say(0, "可以礼盒包装吗"), Say(2, "好的"), Resolve(40, "supervisor")),
    ),
    ChatSpec(
        "tmall-flagship",
        64,
        Visitor("momo_520"),
        (Say(0, "新疆能发货吗"), RateBot(1, 1), Resolve(60, "supervisor")),
        channel="h5",
    ),
    ChatSpec(
        "jd-store",
        80,
        Visitor("大橘"),
        (
            Say(0, "会员积分怎么用"),
            RateBot(1, -1),
            Say(2, "积分在哪里看"),
            Resolve(60, "supervisor"),
        ),
    ),
    ChatSpec(
        "tmall-flagship",
        110,
        Visitor("Lily"),
        (Say(0, "什么时候补货"), Say(2, "谢谢"), Resolve(45, "supervisor")),
    ),
)


# --- after-sales cases ------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """A step of a case at hours after it was opened: approve, tracking, receive, inspect,
    refund, reship, or reject (with `text` as the reason)."""

    hours: float
    action: str
    agent: str = "ajie"
    text: str = ""


@dataclass(frozen=True)
class CaseSpec:
    key: str
    store: str
    hours_ago: float  # when the buyer asked; a case a chat opens (OpenCase) takes the chat's
    kind: RequestKind
    reason: RequestReason
    statuses: tuple[OrderStatus, ...]
    description: str
    moves: tuple[Move, ...] = ()
    custom_made: bool = False  # pick an order with a made-to-measure line (policy refuses)


_K, _R = RequestKind, RequestReason

CASES: tuple[CaseSpec, ...] = (
    CaseSpec(
        "quality-chat",
        "jd-store",
        0,
        _K.return_refund,
        _R.quality,
        RECEIVED,
        "左袖口缝线脱开约 3 厘米，顾客照片上传失败，口述确认。",
    ),
    CaseSpec(
        "requested",
        "tmall-flagship",
        9,
        _K.return_refund,
        _R.no_reason,
        RECEIVED,
        "尺码偏大，不想要了，吊牌未拆。",
    ),
    CaseSpec(
        "awaiting-return",
        "jd-store",
        40,
        _K.return_refund,
        _R.no_reason,
        RECEIVED,
        "颜色和图片有差异，申请退货。",
        (Move(3, "approve"),),
    ),
    CaseSpec(
        "exchange",
        "tmall-flagship",
        30,
        _K.exchange,
        _R.no_reason,
        RECEIVED,
        "想换小一码，颜色不变。",
        (Move(2, "approve", "xiaoyu"),),
    ),
    CaseSpec(
        "returned",
        "tmall-flagship",
        60,
        _K.return_refund,
        _R.no_reason,
        RECEIVED,
        "穿着偏紧，退货退款。",
        (Move(1, "approve", "xiaoyu"), Move(20, "tracking", "xiaoyu")),
    ),
    CaseSpec(
        "received",
        "jd-store",
        80,
        _K.return_refund,
        _R.not_as_described,
        RECEIVED,
        "面料手感和描述的不一样，偏薄。",
        (Move(2, "approve"), Move(18, "tracking"), Move(50, "receive")),
    ),
    CaseSpec(
        "refunded",
        "tmall-flagship",
        110,
        _K.return_refund,
        _R.no_reason,
        RECEIVED,
        "买重复了，退一件。",
        (
            Move(1, "approve", "xiaoyu"),
            Move(16, "tracking", "xiaoyu"),
            Move(60, "receive", "xiaoyu"),
            Move(62, "inspect", "xiaoyu", "吊牌完好，无穿着痕迹"),
            Move(63, "refund", "xiaoyu"),
        ),
    ),
    CaseSpec(
        "refund-unshipped",
        "tmall-flagship",
        5,
        _K.refund_only,
        _R.no_reason,
        UNSHIPPED,
        "拍错颜色了，还没发货，申请仅退款。",
        (Move(0.5, "approve", "xiaomei"), Move(0.6, "refund", "xiaomei")),
    ),
    CaseSpec(
        "rejected",
        "jd-store",
        50,
        _K.return_refund,
        _R.quality,
        RECEIVED,
        "洗过一次后领口变形。",
        (
            Move(
                5,
                "reject",
                "ajie",
                "照片显示衣物经高温烘干，洗标注明不可烘干，不属于质量问题；可为顾客提供免费熨烫整形指导。",
            ),
        ),
    ),
    CaseSpec(
        "resend",
        "jd-store",
        20,
        _K.resend,
        _R.missing_item,
        RECEIVED,
        "包裹里少了一双袜子。",
        (Move(1, "approve"), Move(3, "reship")),
    ),
    CaseSpec(
        "custom-refused",
        "tmall-flagship",
        15,
        _K.return_refund,
        _R.no_reason,
        RECEIVED,
        "定制的刺绣名字不想要了。",
        custom_made=True,
    ),
)
