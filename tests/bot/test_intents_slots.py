"""Intents by rules and slots by regex."""

from __future__ import annotations

import pytest

from kefu.bot.intents import IntentClassifier, IntentSpec
from kefu.bot.pipeline import BotPipeline
from kefu.bot.retrieval import TextAnalyzer
from kefu.bot.slots import extract_slots
from kefu.nlp.normalize import normalize


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("我的快递到哪了", "order_status"),
        ("订单202311150001现在什么状态", "order_status"),
        ("帮我把地址改成北京市朝阳区", "change_address"),
        ("刚拍的不要了，帮我取消", "cancel_order"),
        ("都五天了怎么还不发货", "urge_shipping"),
        ("这条裤子我要退", "return_request"),
        ("帮我换成L码", "exchange_request"),
        ("退款申请一周了还没到账", "refund_status"),
        ("转人工", "human"),
        ("人工客服", "human"),
        ("买两件能便宜点吗，转人工", "human"),  # a question, but the customer wants a person
        ("再不处理我就打12315投诉你们", "complaint"),
        ("亲在吗", "greeting"),
        ("好的谢谢亲", "thanks"),
    ],
)
def test_intents(pipeline: BotPipeline, text: str, intent: str) -> None:
    assert pipeline.understand(text).label == f"intent:{intent}"


def test_general_policy_question_goes_to_the_faq_not_the_action(pipeline: BotPipeline) -> None:
    # "How do returns work" is the FAQ; "I want to return this" is the action.
    assert pipeline.understand("不喜欢可以退吗").label == "faq:F25"
    assert pipeline.understand("几点有人工客服").label == "faq:F36"


def test_greeting_followed_by_a_request_is_the_request(pipeline: BotPipeline) -> None:
    assert pipeline.understand("你好，我要退货").label == "intent:return_request"


def test_intent_without_rules_is_matched_by_its_examples() -> None:
    specs = [IntentSpec("invoice_request", "开发票", ("帮我开张发票", "我要开发票"))]
    classifier = IntentClassifier(specs, TextAnalyzer())
    matches = classifier.classify(normalize("帮我开一张发票"))
    assert matches and matches[0].name == "invoice_request"


def test_only_the_shops_intents_are_returned() -> None:
    classifier = IntentClassifier([IntentSpec("human")], TextAnalyzer())
    assert [m.name for m in classifier.classify("我要投诉")] == []


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        ("帮我查一下订单202311150001", {"order_no": "202311150001"}),
        ("订单号：２０２３１１２０１２３４５６７８", {"order_no": "2023112012345678"}),
        ("手机尾号5678的订单", {"phone_tail": "5678"}),
        ("手机后四位是1234", {"phone_tail": "1234"}),
        ("我手机号13812345678", {"phone": "13812345678", "phone_tail": "5678"}),
        ("身高165cm 100斤穿什么码", {"height_cm": "165", "weight_kg": "50"}),
        ("黑色XL码有吗", {"size": "XL"}),
    ],
)
def test_slots(text: str, slots: dict[str, str]) -> None:
    found = extract_slots(normalize(text))
    for key, value in slots.items():
        assert found.get(key) == value


def test_short_numbers_are_not_order_numbers() -> None:
    assert "order_no" not in extract_slots(normalize("买了3件，花了199元"))
