"""Intent recognition: a rule lexicon for the standard shop intents, example matching for others.

Intents are *actions* the bot or an agent performs for this buyer (look up an order, cancel it,
hand over to a human), as opposed to FAQ entries, which answer general policy questions. So the
rules look for the signals of a personal request — "帮我/我要/给我", an order number, "我的",
"还没…" — and `_QUESTION` (怎么/能不能/…吗) marks a general question, which lowers an action
intent's score so that a confident FAQ answer wins ("怎么申请退货?" is the FAQ, "这条裤子我要退"
is the intent).

Scores are in [0, 1]: 0.9 an explicit request, 0.75 likely, 0.55 possible. Each rule is a
regular expression over the normalised text; `INTENT_RULES` is the lexicon. An intent from the
shop's intent list that has no rules here is recognised by matching its examples and
description with the FAQ retriever (capped at 0.8, so an explicit rule elsewhere wins).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kefu.bot.retrieval import FaqEntry, FaqRetriever, TextAnalyzer


@dataclass(frozen=True)
class IntentSpec:
    name: str
    description: str = ""
    examples: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> IntentSpec:
        examples = data.get("examples") or ()
        return cls(
            name=str(data.get("intent") or data.get("name")),
            description=str(data.get("description", "")),
            examples=tuple(str(e) for e in examples),  # type: ignore[attr-defined]
        )


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    score: float
    # Rules with `action=True` are lowered when the message is phrased as a general question.
    action: bool = True


def _r(pattern: str, score: float, *, action: bool = True) -> Rule:
    return Rule(re.compile(pattern), score, action)


EXPLICIT = 0.9
LIKELY = 0.75
POSSIBLE = 0.55

_ME = r"(?:我要|我想|我想要|想|要|帮我|给我|麻烦|请|申请|帮忙|我需要)"
_GOODS = (
    r"(?:快递|包裹|物流|订单|单号|单子|东西|(?<![退换])货|衣服|裤子|鞋子?|宝贝|商品|"
    r"那单|这单|我的单)"
)

INTENT_RULES: dict[str, list[Rule]] = {
    "human": [
        # Asking for a person is never a policy question, even inside one ("能便宜点吗，转人工").
        _r(
            r"转人工|人工服务|找人工|要人工|接人工|真人|活人|转接客服|^人工$|^客服$|^人工客服$",
            EXPLICIT,
            action=False,
        ),
        _r(
            r"(人工|客服).{0,3}(呢|在哪|出来)|不想?(跟|和)机器人|机器人.{0,4}(听不懂|没用|不行)",
            EXPLICIT,
        ),
        _r(r"(叫|找|让|换).{0,5}(主管|经理|负责人|领导|老板来)", LIKELY),
        _r(r"(不要|别用|不用)机器人|你是机器人", POSSIBLE),
    ],
    "complaint": [
        _r(
            r"投诉|12315|消协|消费者协会|工商局|市场监管|曝光|骗子|欺诈|诈骗|律师|起诉|法院",
            EXPLICIT,
        ),
        _r(r"维权|举报|黑店|垃圾店|坑人|坑爹|无良|给个说法|给我一个说法|忍无可忍", EXPLICIT),
        _r(r"(态度|服务|质量).{0,4}(太差|真差|差劲|恶劣|垃圾)|太失望|气死|什么破", LIKELY),
        _r(r"差评|垃圾|太差了|无语", POSSIBLE),
    ],
    "greeting": [
        _r(
            r"^(?:你好|您好|hi|hello|hey|哈喽|嗨|在吗|在不在|在嘛|有人吗|有人在吗|客服在吗|"
            r"早上好|上午好|中午好|下午好|晚上好|早安|早|在|哈罗|你们好|老板在吗|掌柜在吗)+$",
            EXPLICIT,
        ),
    ],
    "thanks": [
        _r(
            r"^(?:好的?|嗯+|ok|谢|谢谢|谢谢你|谢谢你们|谢啦|谢了|感谢|多谢|非常感谢|太感谢了|辛苦了?|"
            r"明白了?|知道了|了解了?|没问题了?|没事了|行|可以了|好嘞|收到|麻烦了|麻烦你了|再见|拜拜|"
            r"没有了|就这样|好滴|懂了|那好|那行|晓得了)+$",
            EXPLICIT,
        ),
        _r(r"谢谢|感谢|多谢|辛苦了", LIKELY),
        _r(r"点赞|好评|很满意|非常满意|真不错|太棒了|给力", POSSIBLE, action=False),
    ],
    "order_status": [
        _r(
            rf"{_GOODS}[\d\s]*.{{0,8}}(到哪|到了没|到没到|什么状态|状态|什么情况了|怎么样了|进度)",
            EXPLICIT,
            action=False,
        ),
        _r(r"(查|看)(一下|一查|下)?.{0,6}(订单|物流|快递|单号|包裹|运单)", EXPLICIT, action=False),
        _r(r"(物流|快递)(信息|状态|单号)(是|呢|多少)", LIKELY, action=False),
        _r(r"(快递|包裹|物流|订单|单号)[\d\s]*.{0,6}在哪", EXPLICIT, action=False),
        _r(
            r"(发货|发)(了(没|吗|没有)|没(有)?$)|发出(去)?了(没|吗)|(寄|发)出来了吗",
            LIKELY,
            action=False,
        ),
        _r(r"(什么时候|几时|多久|哪天)(能|可以|才能)?(到货|送到|收到|到)$", POSSIBLE, action=False),
        _r(r"到哪(了|里了|儿了|一步)|还没(收到|到)", POSSIBLE, action=False),
    ],
    "urge_shipping": [
        _r(
            r"(怎么|咋|为什么|为啥|到现在|一直|还)(还)?(没|不)(有)?(发货|发出|发)",
            EXPLICIT,
            action=False,
        ),
        _r(
            r"催|快点发|尽快发|赶紧发|早点发|快些发|马上发|抓紧发|快发|速度发|能不能快点",
            EXPLICIT,
            action=False,
        ),
        _r(r"都.{1,5}(天|周|礼拜)了.{0,6}(没|不)", LIKELY, action=False),
        _r(r"急用|着急|急着|等着(穿|用)", POSSIBLE, action=False),
    ],
    "cancel_order": [
        _r(
            rf"{_ME}.{{0,6}}取消|取消(掉|了吧|吧|一下)|取消.{{0,3}}(这|那)?(个|一)?(订单|单)$",
            EXPLICIT,
        ),
        _r(r"(刚|刚刚|才)(下|拍|买|付款)的?.{0,6}不(想)?要了", EXPLICIT),
        _r(r"(单|订单|拍的|下的).{0,6}不(想)?要了|不想买了|不买了", LIKELY),
        _r(r"取消(订单)?|撤销|拍错|下错单|拍多了", POSSIBLE),
    ],
    "return_request": [
        _r(rf"{_ME}.{{0,4}}退(货|掉|了|$)|退货退款|退掉|不要了.{{0,6}}退|要退$|我要退", EXPLICIT),
        _r(r"退货|退回去", POSSIBLE),
    ],
    "exchange_request": [
        _r(rf"{_ME}.{{0,4}}换(货|个|成|一?下|大|小|码|尺码|颜色|色|一件)", EXPLICIT),
        _r(r"换成([a-z0-9]+|.{0,3}(码|色|号))|换货$", EXPLICIT),
        _r(r"换(个|成|一?件)?(大|小)一?(码|号)|换货", POSSIBLE),
    ],
    "refund_status": [
        _r(
            r"(退款|钱|退的钱).{0,10}(到哪|进度|还没|没到|没收到|到账(了)?(没|吗)|怎么还|"
            r"处理了?(没|吗)|动静|怎么样了|审核)",
            EXPLICIT,
            action=False,
        ),
        _r(r"我的退款|退款(呢|状态|进度)|(查|看)(一?下)?退款", EXPLICIT, action=False),
        _r(r"退款.{0,6}(多久|几天|什么时候)", POSSIBLE, action=False),
    ],
    "change_address": [
        _r(rf"{_ME}.{{0,6}}(改|修改|更改|换)(一?下)?.{{0,4}}地址", EXPLICIT),
        _r(r"地址.{0,8}(改成|改为|换成|改到|改一下|帮我改|改下)", EXPLICIT),
        _r(r"地址.{0,4}(填错|写错|错了)|(改|修改|换)(收货)?地址", POSSIBLE),
    ],
}

# A general question about policy rather than a request to act on this buyer's order.
_QUESTION = re.compile(
    r"怎么|怎样|如何|流程|能不能|可不可以|可以.{0,8}吗|能.{0,8}吗|支持|多久|几天|一般|是不是|吗$|\?$"
)
# Personal markers that keep an action intent strong even when phrased as a question.
_PERSONAL = re.compile(
    r"帮我|给我|我的|我要|我想|麻烦|(?<!\d)\d{10,20}(?!\d)|这单|那单|这件|这条|尾号|"
    r"(那个|这个|我买的|我拍的)(订单|单)"
)
# "几点有人工" asks for service hours (a FAQ), not for a human now.
_HOURS = re.compile(r"几点|什么时候|时间|上班|下班|在线|半夜|晚上有|周末有")


@dataclass(frozen=True)
class IntentMatch:
    name: str
    score: float


@dataclass
class IntentClassifier:
    """Scores the shop's intents for a normalised message."""

    specs: list[IntentSpec]
    analyzer: TextAnalyzer
    rules: dict[str, list[Rule]] = field(default_factory=lambda: INTENT_RULES)

    def __post_init__(self) -> None:
        self._names = [s.name for s in self.specs]
        unruled = [s for s in self.specs if s.name not in self.rules]
        self._example_index: FaqRetriever | None = None
        if unruled:
            entries = [
                FaqEntry(id=s.name, question=s.description or s.name, similar=s.examples)
                for s in unruled
            ]
            self._example_index = FaqRetriever(entries, self.analyzer)

    def classify(self, normalized: str) -> list[IntentMatch]:
        """Intent scores, best first (only intents with a positive score)."""
        text = normalized.strip()
        bare = re.sub(r"[\s,.!?;:~、，。！？；：～…]+", "", text)
        question = bool(_QUESTION.search(text))
        personal = bool(_PERSONAL.search(text))
        scores: dict[str, float] = {}
        for name in self._names:
            best = 0.0
            for rule in self.rules.get(name, ()):
                target = bare if rule.pattern.pattern.startswith("^") else text
                if not rule.pattern.search(target):
                    continue
                score = rule.score
                if rule.action and question and not personal:
                    score -= 0.3
                best = max(best, score)
            if best > 0:
                scores[name] = best
        if "human" in scores and _HOURS.search(text):
            scores["human"] = min(scores["human"], POSSIBLE - 0.2)
        # A greeting or thanks only stands alone; "你好，我要退货" is a return request.
        for social in ("greeting", "thanks"):
            if social in scores and len(scores) > 1:
                others = max(v for k, v in scores.items() if k != social)
                if others >= POSSIBLE:
                    scores[social] = min(scores[social], others - 0.05)
        if self._example_index is not None:
            for hit in self._example_index.search(text, limit=2):
                score = min(hit.confidence, 0.8)
                if score > scores.get(hit.entry.id, 0.0):
                    scores[hit.entry.id] = score
        return sorted(
            (IntentMatch(n, round(s, 4)) for n, s in scores.items() if s > 0),
            key=lambda m: -m.score,
        )


def load_intents(items: Iterable[Mapping[str, object]]) -> list[IntentSpec]:
    return [IntentSpec.from_dict(item) for item in items]
