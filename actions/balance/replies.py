"""What the balance flow says, in the citizen's language, and how it writes amounts and dates
(DH / DA, the month names people use in Morocco and in Algeria)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Dict, List


CURRENCY = {"MAD": {"fr": "DH", "en": "MAD", "ar": "درهم"}, "DZD": {"fr": "DA", "en": "DZD", "ar": "دج"}}
MONTHS = {
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "cnss_ma": ["يناير", "فبراير", "مارس", "أبريل", "ماي", "يونيو", "يوليوز", "غشت", "شتنبر", "أكتوبر", "نونبر", "دجنبر"],
    "casnos_dz": ["جانفي", "فيفري", "مارس", "أفريل", "ماي", "جوان", "جويلية", "أوت", "سبتمبر", "أكتوبر", "نوفمبر",
                  "ديسمبر"],
}

TEXTS: Dict[str, Dict[str, str]] = {
    # Without the fund's name: the knowledge base's is its full legal name ("CNSS – Caisse
    # nationale de sécurité sociale (Maroc) : travailleurs non salariés et AMO"), which read
    # badly in the middle of the question; the citizen is on the fund's own channel.
    "ask_number": {
        "fr": "Pour consulter votre compte, je dois vérifier votre identité. Quel est votre numéro d'affiliation ({length} chiffres, par exemple {example}) ? Tapez « annuler » à tout moment pour arrêter.",
        "ar": "للاطلاع على حسابك، يجب أن أتحقق من هويتك. ما هو رقم انخراطك ({length} أرقام، مثلا {example})؟ اكتب «إلغاء» في أي وقت للتوقف.",
        "ary": "باش نشوف الحساب ديالك، خاصني نتأكد من الهوية ديالك. عطيني رقم التسجيل ديالك ({length} أرقام، بحال {example}). كتب «خلاص» إلا بغيتي توقف.",
        "arq": "باش نشوف الحساب تاعك، لازم نتأكد من الهوية تاعك. اعطيني رقم الانخراط تاعك ({length} رقم، كيما {example}). اكتب «خلاص» إذا حبيت توقف.",
        "en": "To look up your account I must verify who you are. What is your affiliate number ({length} digits, e.g. {example})? Type \"cancel\" at any time to stop.",
    },
    "bad_number": {
        "fr": "Ce numéro ne semble pas valide : il doit compter {length} chiffres, par exemple {example}.",
        "ar": "يبدو أن هذا الرقم غير صحيح: يجب أن يتكون من {length} أرقام، مثلا {example}.",
        "en": "This number does not look right: it must have {length} digits, e.g. {example}.",
    },
    # The citizen wrote their number with the question: the form starts at the birth date.
    "number_noted": {
        "fr": "Pour consulter votre compte, je dois vérifier votre identité. J'ai noté le numéro d'affiliation écrit dans votre message. Tapez « annuler » à tout moment pour arrêter.",
        "ar": "للاطلاع على حسابك، يجب أن أتحقق من هويتك. سجلت رقم الانخراط المكتوب في رسالتك. اكتب «إلغاء» في أي وقت للتوقف.",
        "ary": "باش نشوف الحساب ديالك، خاصني نتأكد من الهوية ديالك. خديت رقم التسجيل لي كتبتي فالرسالة ديالك. كتب «خلاص» إلا بغيتي توقف.",
        "arq": "باش نشوف الحساب تاعك، لازم نتأكد من الهوية تاعك. خذيت رقم الانخراط لي كتبتو فالرسالة تاعك. اكتب «خلاص» إذا حبيت توقف.",
        "en": "To look up your account I must verify who you are. I have taken the affiliate number written in your message. Type \"cancel\" at any time to stop.",
    },
    "ask_birth_date": {
        "fr": "Merci. Quelle est votre date de naissance ? (par exemple 12/03/1980 ou 12 mars 1980)",
        "ar": "شكرا. ما هو تاريخ ازديادك؟ (مثلا 12/03/1980)",
        "ary": "شكرا. شنو هو تاريخ الازدياد ديالك؟ (بحال 12/03/1980)",
        "arq": "شكرا. واش هو تاريخ الميلاد تاعك؟ (كيما 12/03/1980)",
        "en": "Thank you. What is your date of birth? (e.g. 12/03/1980 or 12 March 1980)",
    },
    "bad_birth_date": {
        "fr": "Je n'ai pas compris cette date. Écrivez-la par exemple 12/03/1980.",
        "ar": "لم أفهم هذا التاريخ. اكتبه مثلا هكذا: 12/03/1980.",
        "en": "I could not read that date. Please write it like 12/03/1980.",
    },
    "mismatch": {
        "fr": "Ces informations ne correspondent pas à nos registres. Vérifiez votre numéro et votre date de naissance, puis réessayez.",
        "ar": "هذه المعطيات لا تطابق سجلاتنا. تحقق من رقمك وتاريخ ازديادك ثم أعد المحاولة.",
        "en": "These details do not match our records. Check your number and date of birth, then try again.",
    },
    "ask_code": {  # the fund as "la caisse", as in wrong_phone: its full name, mid-sentence, read badly
        "fr": "Je viens d'envoyer un code à 6 chiffres par SMS au numéro de téléphone enregistré à la caisse. Tapez-le ici (valable 5 minutes).",
        "ar": "أرسلت للتو رمزا من 6 أرقام عبر رسالة قصيرة إلى رقم الهاتف المسجل لدى الصندوق. اكتبه هنا (صالح لمدة 5 دقائق).",
        "ary": "صيفطت ليك دابا كود ديال 6 أرقام ف SMS للنمرة المسجلة عند الصندوق. كتبو هنا (صالح 5 دقايق).",
        "arq": "بعثتلك درك كود تاع 6 أرقام في SMS للنيميرو المسجل عند الصندوق. اكتبو هنا (صالح 5 دقايق).",
        "en": "I have just sent a 6-digit code by SMS to the phone number the fund has on file. Type it here (valid for 5 minutes).",
    },
    "bad_code": {
        "fr": "Le code compte 6 chiffres, par exemple 482913.",
        "ar": "يتكون الرمز من 6 أرقام، مثلا 482913.",
        "en": "The code has 6 digits, e.g. 482913.",
    },
    "wrong_code": {
        "fr": "Ce code n'est pas le bon. Il vous reste {left} essai(s).",
        "ar": "هذا الرمز غير صحيح. تبقى لك {left} محاولة.",
        "en": "That code is not right. You have {left} attempt(s) left.",
    },
    "wrong_phone": {
        "fr": "Ce numéro de téléphone n'est pas celui enregistré à la caisse. Tapez plutôt le code reçu par SMS.",
        "ar": "رقم الهاتف هذا ليس المسجل لدى الصندوق. اكتب بدلا من ذلك الرمز الذي وصلك.",
        "en": "That phone number is not the one on file. Please type the code you received by SMS instead.",
    },
    "contact_unverified": {
        "fr": "Je ne peux pas vérifier ce contact ici. Tapez plutôt le code reçu par SMS.",
        "ar": "لا يمكنني التحقق من جهة الاتصال هذه هنا. اكتب بدلا من ذلك الرمز الذي وصلك عبر رسالة نصية.",
        "en": "I cannot verify that contact here. Please type the code you received by SMS instead.",
    },
    "expired": {
        "fr": "Le code a expiré. Recommençons : ",
        "ar": "انتهت صلاحية الرمز. لنبدأ من جديد: ",
        "en": "The code has expired. Let us start again: ",
    },
    "locked": {
        "fr": "Trop d'essais infructueux : la vérification est bloquée pendant {minutes} minutes. Vous pouvez aussi contacter : {channels}",
        "ar": "محاولات فاشلة كثيرة: تم إيقاف التحقق لمدة {minutes} دقيقة. يمكنك أيضا التواصل مع: {channels}",
        "en": "Too many failed attempts: verification is blocked for {minutes} minutes. You can also contact: {channels}",
    },
    # {channels} is whole sentences with their final period (knowledge/*/_fund.yml): the text
    # around it must not add one ("... www.macnss.ma.. Je peux").
    "unavailable": {
        "fr": "Désolé, le service de consultation des comptes ne répond pas pour le moment. Réessayez plus tard. {channels} Je peux toujours répondre à vos questions générales.",
        "ar": "عذرا، خدمة الاطلاع على الحسابات لا تستجيب حاليا. أعد المحاولة لاحقا. {channels} ما زال بإمكاني الإجابة عن أسئلتك العامة.",
        "en": "Sorry, the account service is not answering right now. Try again later. {channels} I can still answer your general questions.",
    },
    "session_expired": {
        "fr": "La vérification a expiré. Redemandez votre solde pour recommencer.",
        "ar": "انتهت صلاحية التحقق. اطلب رصيدك من جديد للبدء مرة أخرى.",
        "en": "The verification has expired. Ask for your balance again to start over.",
    },
    "cancelled": {
        "fr": "D'accord, j'arrête la vérification. Rien n'a été conservé. Une autre question ?",
        "ar": "حسنا، أوقفت التحقق. لم يتم الاحتفاظ بأي معلومة. هل لديك سؤال آخر؟",
        "ary": "واخا، وقفت التحقق. ما تحفظ حتى شي. عندك شي سؤال آخر؟",
        "arq": "واخا، حبست التحقق. ما تحفظ والو. عندك سؤال آخر؟",
        "en": "OK, I stopped the verification. Nothing was kept. Any other question?",
    },
    "balance_header": {
        "fr": "Compte {ref} ({fund}) :",
        "ar": "الحساب {ref} ({fund}):",
        "en": "Account {ref} ({fund}):",
    },
    "due_none": {"fr": "- Aucune cotisation due.", "ar": "- لا توجد اشتراكات مستحقة.", "en": "- No contributions due."},
    "due": {"fr": "- Cotisations dues : {periods}", "ar": "- الاشتراكات المستحقة: {periods}", "en": "- Contributions due: {periods}"},
    "penalties": {"fr": "- Pénalités : {amount}", "ar": "- الغرامات: {amount}", "en": "- Penalties: {amount}"},
    "total": {"fr": "- Total dû : {amount}", "ar": "- المجموع المستحق: {amount}", "en": "- Total due: {amount}"},
    "last_payment": {"fr": "- Dernier paiement : {amount} le {date}", "ar": "- آخر أداء: {amount} بتاريخ {date}",
                     "en": "- Last payment: {amount} on {date}"},
    "next_deadline": {"fr": "- Prochaine échéance : {amount} avant le {date}", "ar": "- الاستحقاق المقبل: {amount} قبل {date}",
                      "en": "- Next deadline: {amount} by {date}"},
    "plan": {"fr": "- Échéancier : {left} versement(s) restant(s), prochain de {amount} le {date}",
             "ar": "- جدولة: تبقى {left} دفعات، الدفعة المقبلة {amount} بتاريخ {date}",
             "en": "- Instalment plan: {left} instalment(s) left, next {amount} on {date}"},
    "rights_open": {"fr": "- Droits à l'assurance maladie : ouverts depuis le {date}.",
                    "ar": "- الحق في التأمين الصحي: مفتوح منذ {date}.", "en": "- Health insurance rights: open since {date}."},
    "rights_closed": {"fr": "- Droits à l'assurance maladie : pas encore ouverts.",
                      "ar": "- الحق في التأمين الصحي: غير مفتوح بعد.", "en": "- Health insurance rights: not open yet."},
    "rights_contributions_unpaid": {"fr": "- Droits à l'assurance maladie : suspendus tant que des cotisations restent impayées.",
                                    "ar": "- الحق في التأمين الصحي: موقوف ما دامت هناك اشتراكات غير مؤداة.",
                                    "en": "- Health insurance rights: suspended while contributions remain unpaid."},
    "rights_waiting_period": {"fr": "- Droits à l'assurance maladie : pas encore ouverts (période de stage en cours).",
                              "ar": "- الحق في التأمين الصحي: غير مفتوح بعد (فترة التدريب جارية).",
                              "en": "- Health insurance rights: not open yet (waiting period running)."},
    "rights_first_contribution_pending": {"fr": "- Droits à l'assurance maladie : pas encore ouverts (première cotisation attendue).",
                                          "ar": "- الحق في التأمين الصحي: غير مفتوح بعد (في انتظار أول اشتراك).",
                                          "en": "- Health insurance rights: not open yet (first contribution awaited)."},
}


def text(key: str, lang: str, **values: Any) -> str:
    variants = TEXTS[key]
    chosen = variants.get(lang) or (variants.get("ar") if lang in ("ary", "arq") else None) or variants["fr"]
    return chosen.format(**values)


def _family(lang: str) -> str:
    return "ar" if lang in ("ar", "ary", "arq") else ("en" if lang == "en" else "fr")


def money(amount: str, currency: str, lang: str) -> str:
    value = Decimal(amount)
    family = _family(lang)
    grouped = f"{value:,.2f}"
    if family == "fr":
        grouped = grouped.replace(",", "\u202f").replace(".", ",")
    return f"{grouped} {CURRENCY.get(currency, {}).get(family, currency)}"


def date_text(value: str | dt.date, lang: str, fund: str) -> str:
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    family = _family(lang)
    months = MONTHS[fund] if family == "ar" else MONTHS[family]
    return f"{day.day} {months[day.month - 1]} {day.year}"


def balance_reply(balance: Dict[str, Any], lang: str, fund_name: str) -> str:
    currency, fund = balance["currency"], balance["fund"]
    lines = [text("balance_header", lang, ref=balance["affiliate_ref"], fund=fund_name)]
    due: List[Dict[str, str]] = balance.get("contributions_due") or []
    if due:
        periods = ", ".join(f"{d['period']} ({money(d['amount'], currency, lang)})" for d in due)
        lines.append(text("due", lang, periods=periods))
    else:
        lines.append(text("due_none", lang))
    if Decimal(balance.get("penalties_due") or "0") > 0:
        lines.append(text("penalties", lang, amount=money(balance["penalties_due"], currency, lang)))
    lines.append(text("total", lang, amount=money(balance["total_due"], currency, lang)))
    if balance.get("last_payment"):
        p = balance["last_payment"]
        lines.append(text("last_payment", lang, amount=money(p["amount"], currency, lang), date=date_text(p["date"], lang, fund)))
    if balance.get("next_deadline"):
        d = balance["next_deadline"]
        lines.append(text("next_deadline", lang, amount=money(d["amount"], currency, lang), date=date_text(d["date"], lang, fund)))
    if balance.get("instalment_plan"):
        p = balance["instalment_plan"]
        lines.append(text("plan", lang, left=p["instalments_left"], amount=money(p["amount"], currency, lang),
                          date=date_text(p["next_instalment_date"], lang, fund)))
    rights = balance.get("health_rights") or {}
    if rights.get("open") and rights.get("since"):
        lines.append(text("rights_open", lang, date=date_text(rights["since"], lang, fund)))
    elif not rights.get("open"):
        reason = f"rights_{rights.get('reason')}"
        lines.append(text(reason if reason in TEXTS else "rights_closed", lang))
    return "\n".join(lines)


