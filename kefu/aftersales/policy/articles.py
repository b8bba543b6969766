"""The legal and platform rules a decision can cite, in Chinese and English.

Article numbers follow DOMAIN.md §1–2, which was compiled from public copies of the texts;
check the wording against the official text before relying on it in a dispute.
"""

from __future__ import annotations

from dataclasses import dataclass

CPL = "《消费者权益保护法》"
MEASURES = "《网络购买商品七日无理由退货暂行办法》"
REGULATION = "《消费者权益保护法实施条例》"
ECL = "《电子商务法》"
CIVIL = "《民法典》"
TAOBAO = "《淘宝平台争议处理规则》"


@dataclass(frozen=True, slots=True)
class Article:
    zh: str
    en: str


def _a(zh: str, en: str) -> Article:
    return Article(zh, en)


CPL_23 = _a(f"{CPL}第二十三条", "Consumer Rights Protection Law art. 23")
CPL_24 = _a(f"{CPL}第二十四条", "Consumer Rights Protection Law art. 24")
CPL_25 = _a(f"{CPL}第二十五条", "Consumer Rights Protection Law art. 25")
M_6 = _a(f"{MEASURES}第六条；{CPL}第二十五条", "7-day return measures art. 6; CPL art. 25")
M_7 = _a(f"{MEASURES}第七条", "7-day return measures art. 7")
M_8 = _a(f"{MEASURES}第八条", "7-day return measures art. 8")
M_9 = _a(f"{MEASURES}第九条", "7-day return measures art. 9")
M_10 = _a(f"{MEASURES}第十条", "7-day return measures art. 10")
M_11 = _a(f"{MEASURES}第十一条", "7-day return measures art. 11")
M_12 = _a(f"{MEASURES}第十二条、第十五条", "7-day return measures arts. 12, 15")
M_13 = _a(f"{MEASURES}第十三条；{CPL}第二十五条", "7-day return measures art. 13; CPL art. 25")
M_14 = _a(f"{MEASURES}第十四条", "7-day return measures art. 14")
M_16 = _a(
    f"{MEASURES}第十六条、第十七条；{REGULATION}第十八条",
    "7-day return measures arts. 16, 17; CPL Implementing Regulation art. 18",
)
M_18 = _a(f"{MEASURES}第十八条；{CPL}第二十五条", "7-day return measures art. 18; CPL art. 25")
M_20 = _a(
    f"{MEASURES}第二十条；{REGULATION}第十九条",
    "7-day return measures art. 20; CPL Implementing Regulation art. 19",
)
M_31 = _a(f"{MEASURES}第三十一条", "7-day return measures art. 31")
ECL_20 = _a(f"{ECL}第二十条", "E-Commerce Law art. 20")
ECL_51 = _a(f"{ECL}第五十一条", "E-Commerce Law art. 51")
CIVIL_201 = _a(f"{CIVIL}第二百零一条", "Civil Code art. 201")
CIVIL_202 = _a(f"{CIVIL}第二百零二条", "Civil Code art. 202")
TB_7 = _a(f"{TAOBAO}第七条", "Taobao dispute rules art. 7")
TB_23 = _a(f"{TAOBAO}第二十三条", "Taobao dispute rules art. 23")
TB_27 = _a(f"{TAOBAO}第二十七条", "Taobao dispute rules art. 27")
TB_53 = _a(f"{TAOBAO}第五十三条", "Taobao dispute rules art. 53")
TB_54 = _a(f"{TAOBAO}第五十四条", "Taobao dispute rules art. 54")
SANBAO = _a("三包规定（部分商品修理更换退货责任规定）", "Three guarantees (三包) rules")
SHOP = _a("本店售后政策", "Shop after-sales policy")
SHOP_PRICE = _a("本店价格保护政策", "Shop price-protection policy")
ORDER_STATE = _a("订单状态", "Order state")
AGENT = _a("客服人工判断", "Agent decision")
