"""The gateway's own sentences (not the assistant's): what a citizen reads when the gateway
itself answers, in French, Arabic and English. Other languages go along their fallback chain
in registry.yml (Darija -> Arabic, anything else -> French)."""
from __future__ import annotations

import re
from typing import Optional

from bot.registry import registry

LANGS = ("fr", "ar", "en")
LANG_NAMES = {lang: registry().languages[lang].name for lang in LANGS}

MESSAGES: dict[str, dict[str, str]] = {
    "too_long": {
        "fr": "Votre message est trop long ({length} caractères). Écrivez-le en {max} caractères au plus.",
        "ar": "رسالتك طويلة جدا ({length} حرفا). اكتبها في {max} حرف على الأكثر.",
        "en": "Your message is too long ({length} characters). Please keep it under {max} characters.",
    },
    "too_fast": {
        "fr": "Vous envoyez beaucoup de messages à la suite. "
              "Merci de patienter {seconds} secondes avant de réessayer.",
        "ar": "أرسلت رسائل كثيرة متتالية. يرجى الانتظار {seconds} ثانية قبل المحاولة من جديد.",
        "en": "You are sending many messages in a row. Please wait {seconds} seconds before trying again.",
    },
    "unavailable": {
        "fr": "Sanad est momentanément indisponible. "
              "Votre message est gardé et sera envoyé dès que le service reviendra.",
        "ar": "سند غير متاح مؤقتا. رسالتك محفوظة وسترسل فور عودة الخدمة.",
        "en": "Sanad is temporarily unavailable. "
              "Your message is kept and will be sent as soon as the service is back.",
    },
    "unavailable_gave_up": {
        "fr": "Sanad est toujours indisponible. Merci de renvoyer votre question un peu plus tard.",
        "ar": "ما زال سند غير متاح. يرجى إعادة إرسال سؤالك لاحقا.",
        "en": "Sanad is still unavailable. Please send your question again a little later.",
    },
    "not_text": {
        "fr": "Je ne lis que les messages écrits. Merci de taper votre question.",
        "ar": "لا أقرأ إلا الرسائل المكتوبة. يرجى كتابة سؤالك.",
        "en": "I can only read written messages. Please type your question.",
    },
    "empty": {
        "fr": "Votre message est vide. Tapez votre question.",
        "ar": "رسالتك فارغة. اكتب سؤالك.",
        "en": "Your message is empty. Please type your question.",
    },
    "bad_session": {
        "fr": "Votre session a expiré. Une nouvelle conversation commence.",
        "ar": "انتهت صلاحية جلستك. تبدأ محادثة جديدة.",
        "en": "Your session has expired. A new conversation starts.",
    },
    "contact_button": {
        "fr": "📱 Partager mon numéro",
        "ar": "📱 مشاركة رقم هاتفي",
        "en": "📱 Share my phone number",
    },
    "contact_prompt": {
        "fr": "Vous pouvez aussi partager votre numéro de téléphone avec le bouton ci-dessous.",
        "ar": "يمكنك أيضا مشاركة رقم هاتفك عبر الزر أدناه.",
        "en": "You can also share your phone number with the button below.",
    },
    "contact_refused": {
        "fr": "Je ne peux accepter que votre propre numéro, partagé avec le bouton « Partager mon numéro ».",
        "ar": "لا يمكنني قبول إلا رقمك أنت، عبر زر «مشاركة رقم هاتفي».",
        "en": "I can only accept your own number, shared with the “Share my phone number” button.",
    },
    "contact_received": {
        "fr": "Merci, numéro reçu.",
        "ar": "شكرا، تم استلام الرقم.",
        "en": "Thank you, number received.",
    },
    "lang_prompt": {
        "fr": "Dans quelle langue voulez-vous les réponses ?",
        "ar": "بأي لغة تريد الأجوبة؟",
        "en": "Which language do you want the answers in?",
    },
    "lang_set": {
        "fr": "C'est noté : je vous réponds en français.",
        "ar": "تم: سأجيبك بالعربية.",
        "en": "Noted: I will answer in English.",
    },
    "button_expired": {
        "fr": "Ce choix n'est plus disponible. Posez à nouveau votre question.",
        "ar": "هذا الاختيار لم يعد متاحا. اطرح سؤالك من جديد.",
        "en": "This choice is no longer available. Please ask your question again.",
    },
    "sources": {
        "fr": "Sources",
        "ar": "المصادر",
        "en": "Sources",
    },
    # Live handoff (gateway/app/agent/handoff/desk.py): what the citizen reads on their channel.
    "handoff_waiting": {
        "fr": "Un conseiller va vous répondre ici, dans cette conversation. Vous êtes n° {position} dans la "
              "file d'attente (environ {minutes} min). En attendant, vous pouvez continuer à écrire.",
        "ar": "سيجيبك مستشار هنا، في هذه المحادثة. ترتيبك في قائمة الانتظار: {position} (حوالي {minutes} دقيقة). "
              "يمكنك مواصلة الكتابة في انتظار ذلك.",
        "en": "An advisor will answer you here, in this conversation. You are number {position} in the queue "
              "(about {minutes} min). You can keep writing meanwhile.",
    },
    "handoff_closed": {
        "fr": "Nos conseillers ne sont pas disponibles en ce moment. Votre demande est gardée : un conseiller vous "
              "répondra ici dès la prochaine ouverture, le {day} à {time} (heure locale). "
              "Pour parler à une personne autrement : {channels}",
        "ar": "مستشارونا غير متاحين الآن. طلبك محفوظ: سيجيبك مستشار هنا عند الافتتاح القادم، يوم {day} "
              "على الساعة {time} (بالتوقيت المحلي). للتحدث مع موظف بطريقة أخرى: {channels}",
        "en": "Our advisors are not available right now. Your request is kept: an advisor will answer you here "
              "when we next open, on {day} at {time} (local time). To talk to a person another way: {channels}",
    },
    "handoff_claimed": {
        "fr": "Un conseiller a rejoint la conversation et vous répond.",
        "ar": "انضم مستشار إلى المحادثة وسيجيبك.",
        "en": "An advisor has joined the conversation and is answering you.",
    },
    "handoff_returned": {
        "fr": "Le conseiller vous a rendu à Sanad, l'assistant automatique. Posez-lui votre question.",
        "ar": "أعادك المستشار إلى سند، المساعد الآلي. اطرح عليه سؤالك.",
        "en": "The advisor has handed you back to Sanad, the automatic assistant. Ask it your question.",
    },
    "handoff_balance_stopped": {
        "fr": "La consultation de votre solde en cours a été arrêtée : redemandez votre solde pour la reprendre.",
        "ar": "توقف الاطلاع على رصيدك الذي كان جاريا: اطلب رصيدك من جديد لاستئنافه.",
        "en": "The balance look-up in progress was stopped: ask for your balance again to start it over.",
    },
    "handoff_ended": {
        "fr": "Le conseiller a terminé la conversation. Merci ! Sanad, l'assistant, reste à votre disposition.",
        "ar": "أنهى المستشار المحادثة. شكرا! سند، المساعد، رهن إشارتك.",
        "en": "The advisor has ended the conversation. Thank you! Sanad, the assistant, is still here for you.",
    },
    "agent_label": {
        "fr": "👤 Conseiller :",
        "ar": "👤 المستشار:",
        "en": "👤 Advisor:",
    },
}

_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")


def ui_lang(code: Optional[str]) -> str:
    """The gateway sentence language for a reply language or a client language code
    (`ar-MA`, `ary`, `en-GB`...)."""
    base = (code or "").lower().replace("_", "-").split("-")[0]
    return registry().fallback(base, LANGS)


def guess_lang(text: str) -> Optional[str]:
    """Arabic script -> "ar"; otherwise unknown (None)."""
    return "ar" if _ARABIC.search(text or "") else None


def say(key: str, lang: Optional[str], **values: object) -> str:
    return MESSAGES[key][ui_lang(lang)].format(**values)
