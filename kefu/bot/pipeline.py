"""The bot's understanding pipeline: one message in, one decision out.

`BotPipeline` is built from the shop's FAQ entries and intent list (and optionally the shop's
synonym table) and is what the live bot, the `kefu bot predict` evaluation command and the
benchmark all call, so the figures measured are the figures the shop gets.

For each message:

1. `normalize` (full-width, traditional, emoji, 亲/呢/哦, shorthand, homophones);
2. slots by regex (order number, phone tail, …);
3. intents by rules (`kefu.bot.intents`);
4. FAQ retrieval (`kefu.bot.retrieval`) over the whole message and over its last clause and
   its question clauses, because shoppers put context first ("昨天买的裤子，165穿着有点紧，
   能换大一号吗"); questions about another company's service ("中通快递的客服电话") have their
   FAQ confidence halved;
5. the decision (`Thresholds`):
   * an explicit action intent (score ≥ ``intent_explicit``) wins — "订单123…我要退货" is a
     return request even though it also matches the FAQ "怎么申请退货";
   * then a FAQ with confidence ≥ ``answer`` is answered directly;
   * then a likely intent (≥ ``intent_likely``, and above the FAQ's confidence) is acted on;
   * then a FAQ between ``suggest`` and ``answer``: the bot offers the top three questions
     ("您是不是想问…");
   * then a possible intent (≥ ``intent``);
   * below that the bot falls back (asks to rephrase or hands over), label ``none``.

`Understanding.label` is what the bot acts on: ``faq:<id>`` when it answers or leads its
suggestions with that entry, ``intent:<name>``, or ``none``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from kefu.bot.intents import IntentClassifier, IntentMatch, IntentSpec, load_intents
from kefu.bot.retrieval import FaqEntry, FaqHit, FaqRetriever, TextAnalyzer, load_entries
from kefu.bot.slots import extract_slots
from kefu.nlp.normalize import normalize
from kefu.nlp.segment import Segmenter
from kefu.nlp.synonyms import SynonymTable, default_synonyms

Action = Literal["answer", "suggest", "intent", "fallback"]


@dataclass(frozen=True)
class Thresholds:
    answer: float = 0.6
    suggest: float = 0.3
    intent: float = 0.55
    intent_likely: float = 0.7
    intent_explicit: float = 0.85


@dataclass(frozen=True)
class Understanding:
    text: str
    normalized: str
    action: Action
    label: str
    confidence: float
    slots: dict[str, str]
    suggestions: list[FaqHit] = field(default_factory=list)
    intents: list[IntentMatch] = field(default_factory=list)

    @property
    def faq(self) -> FaqEntry | None:
        return self.suggestions[0].entry if self.label.startswith("faq:") else None

    def prediction(self) -> dict[str, Any]:
        """The evaluation contract's JSON object."""
        return {
            "text": self.text,
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "slots": dict(self.slots),
        }


# Questions about another company's service ("中通快递的客服电话", "顺丰的网点几点关门",
# "淘宝会员怎么开通") share words with the shop's FAQ but are not about this shop.
_OTHER_PARTY = re.compile(
    r"(顺丰|中通|圆通|韵达|申通|极兔|邮政|ems|京东|淘宝|天猫|拼多多|抖音|快手|支付宝|微信|银行|"
    r"快递员|快递公司|快递站|驿站|菜鸟|网点)"
    r"(快递)?(的)?.{0,6}(电话|热线|客服|网点|营业|下班|上班|关门|开门|工资|招聘|招人|会员|官网|"
    r"app|开通|怎么开|注册|注销|态度|老板|总部|在哪)"
)
OTHER_PARTY_FACTOR = 0.5

_CLAUSE_SPLIT = re.compile(r"[,.!?;~、，。！？；～…\s]+")
_QUESTION_MARK = re.compile(r"吗|么|怎么|什么|多久|几|能不能|可不可以|是不是|哪|多少|\?|呢|不$")


class BotPipeline:
    """Understands shoppers' messages against one shop's FAQ entries and intents.

    Build it once per knowledge-base version; `understand` is read-only and safe to call from
    several threads.
    """

    def __init__(
        self,
        entries: Iterable[FaqEntry],
        intents: Iterable[IntentSpec],
        *,
        synonyms: SynonymTable | None = None,
        thresholds: Thresholds | None = None,
    ) -> None:
        table = default_synonyms()
        segmenter = None
        if synonyms is not None:
            table = table.merged(synonyms)
            # The shop's words ("面包服") must segment as words for its table to apply; a
            # dedicated segmenter keeps one shop's vocabulary out of another's.
            segmenter = Segmenter(extra_words=tuple(w for w in synonyms.words() if "_" not in w))
        self.analyzer = TextAnalyzer(table, segmenter)
        self.entries = list(entries)
        self.intent_specs = list(intents)
        self.thresholds = thresholds or Thresholds()
        self.retriever = FaqRetriever(self.entries, self.analyzer)
        self.intents = IntentClassifier(self.intent_specs, self.analyzer)

    @classmethod
    def from_data(
        cls,
        kb: Iterable[Mapping[str, object]],
        intents: Iterable[Mapping[str, object]],
        **kwargs: Any,
    ) -> BotPipeline:
        return cls(load_entries(kb), load_intents(intents), **kwargs)

    @classmethod
    def from_files(
        cls,
        kb_path: str | Path,
        intents_path: str | Path,
        *,
        synonyms_path: str | Path | None = None,
        thresholds: Thresholds | None = None,
    ) -> BotPipeline:
        kb = json.loads(Path(kb_path).read_text(encoding="utf-8"))
        if isinstance(kb, dict):  # {"entries": [...]} is accepted too
            kb = kb.get("entries") or kb.get("faqs") or []
        intents = json.loads(Path(intents_path).read_text(encoding="utf-8"))
        if isinstance(intents, dict):
            intents = intents.get("intents") or []
        synonyms = SynonymTable.from_file(synonyms_path) if synonyms_path else None
        return cls.from_data(kb, intents, synonyms=synonyms, thresholds=thresholds)

    def search_faq(self, normalized: str, *, limit: int = 3) -> list[FaqHit]:
        """FAQ hits for the message, trying its question clauses as well as the whole."""
        best = self.retriever.search(self.analyzer.analyze("", normalized=normalized), limit=limit)
        clauses = [c for c in _CLAUSE_SPLIT.split(normalized) if len(c) >= 2]
        if len(clauses) > 1:
            chosen = {c for c in clauses if _QUESTION_MARK.search(c)} or {clauses[-1]}
            for clause in chosen:
                hits = self.retriever.search(
                    self.analyzer.analyze("", normalized=clause), limit=limit
                )
                if hits and (not best or hits[0].confidence > best[0].confidence):
                    best = hits
        return best

    def understand(self, text: str) -> Understanding:
        norm = normalize(text or "")
        slots = extract_slots(norm)
        if not norm.strip():
            return Understanding(text, norm, "fallback", "none", 0.0, slots)
        intents = self.intents.classify(norm)
        hits = self.search_faq(norm)
        if hits and _OTHER_PARTY.search(norm):
            hits = [replace(h, confidence=h.confidence * OTHER_PARTY_FACTOR) for h in hits]
        t = self.thresholds
        top_intent = intents[0] if intents else None
        intent_score = top_intent.score if top_intent else 0.0
        faq_conf = hits[0].confidence if hits else 0.0

        def result(action: Action, label: str, conf: float) -> Understanding:
            return Understanding(text, norm, action, label, conf, slots, hits, intents)

        if top_intent and intent_score >= t.intent_explicit:
            return result("intent", f"intent:{top_intent.name}", intent_score)
        if hits and faq_conf >= t.answer:
            return result("answer", f"faq:{hits[0].entry.id}", faq_conf)
        if top_intent and intent_score >= t.intent_likely and intent_score >= faq_conf:
            return result("intent", f"intent:{top_intent.name}", intent_score)
        if hits and faq_conf >= t.suggest:
            return result("suggest", f"faq:{hits[0].entry.id}", faq_conf)
        if top_intent and intent_score >= t.intent:
            return result("intent", f"intent:{top_intent.name}", intent_score)
        return result("fallback", "none", max(1.0 - faq_conf, 0.0) if hits else 1.0)
