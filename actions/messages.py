"""Every sentence the actions say, per reply language. Arabic-script Darija falls back to MSA
where no Darija sentence is written; English falls back to French (see `say`)."""
from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "source": {
        "fr": "Source : {sources} (fiche vérifiée le {reviewed})",
        "ar": "المصدر: {sources} (تمت مراجعة المعلومة في {reviewed})",
        "ary": "المصدر: {sources} (تراجعات المعلومة ف {reviewed})",
        "arq": "المصدر: {sources} (تراجعت المعلومة في {reviewed})",
        "en": "Source: {sources} (checked on {reviewed})",
    },
    "clarify": {
        "fr": "Je veux être sûr de bien vous répondre. Votre question porte sur :",
        "ar": "أريد أن أتأكد من فهم سؤالك. هل يتعلق بـ:",
        "ary": "بغيت نتأكد واش فهمتك مزيان. سؤالك على:",
        "arq": "حاب نتأكد بلي فهمتك مليح. سؤالك على:",
        "en": "I want to be sure I answer the right question. Is it about:",
    },
    "clarify_none": {
        "fr": "Aucune de ces réponses",
        "ar": "لا شيء مما سبق",
        "ary": "حتى وحدة",
        "arq": "حتى وحدة",
        "en": "None of these",
    },
    "out_of_scope": {
        "fr": "Je ne peux répondre qu'aux questions sur la {fund} : inscription, cotisations, paiement, "
              "droits à l'assurance maladie, dettes, retraite, contacts. Pour parler à quelqu'un : {channels}",
        "ar": "لا يمكنني الإجابة إلا عن الأسئلة المتعلقة بـ{fund}: التسجيل، الاشتراكات، الأداء، الحقوق في "
              "التأمين الصحي، الديون، التقاعد، وسائل الاتصال. للتحدث مع شخص: {channels}",
        "ary": "نقدر نجاوبك غير على الأسئلة ديال {fund}: التسجيل، الاشتراكات، الخلاص، التغطية الصحية، "
               "الديون، التقاعد، التواصل. باش تهضر مع شي واحد: {channels}",
        "arq": "نقدر نجاوبك غير على الأسئلة تاع {fund}: التسجيل، الاشتراكات، الخلاص، التأمين الصحي، "
               "الديون، التقاعد، التواصل. باش تهدر مع واحد: {channels}",
        "en": "I can only answer questions about {fund}: registration, contributions, payment, health "
              "insurance rights, debts, retirement, contacts. To talk to someone: {channels}",
    },
    "handoff": {
        "fr": "Je ne peux pas encore vous mettre en relation avec un conseiller depuis cette conversation. "
              "Pour parler à une personne de la {fund} : {channels}",
        "ar": "لا يمكنني بعد تحويلك إلى مستشار من هذه المحادثة. للتحدث مع موظف من {fund}: {channels}",
        "ary": "مازال ما نقدرش نحولك لشي مستشار من هاد المحادثة. باش تهضر مع شي واحد من {fund}: {channels}",
        "arq": "مازال ما نقدرش نحولك لمستشار من هاد المحادثة. باش تهدر مع واحد من {fund}: {channels}",
        "en": "I cannot transfer you to an advisor from this conversation yet. "
              "To talk to a person at {fund}: {channels}",
    },
    "greet": {
        "fr": "Bonjour ! Je suis Sanad, l'assistant de la {fund}. Posez-moi votre question : inscription, "
              "cotisations, paiement, droits santé, dettes, retraite...",
        "ar": "مرحبا! أنا سند، المساعد الرقمي لـ{fund}. اطرح سؤالك: التسجيل، الاشتراكات، الأداء، "
              "التغطية الصحية، الديون، التقاعد...",
        "ary": "مرحبا! أنا سند، المساعد ديال {fund}. سولني: التسجيل، الاشتراكات، الخلاص، التغطية الصحية، "
               "الديون، التقاعد...",
        "arq": "مرحبا! أنا سند، المساعد تاع {fund}. سقسيني: التسجيل، الاشتراكات، الخلاص، التأمين الصحي، "
               "الديون، التقاعد...",
        "en": "Hello! I am Sanad, the assistant of {fund}. Ask me about registration, contributions, "
              "payment, health rights, debts, retirement...",
    },
    "goodbye": {
        "fr": "Au revoir, et bonne journée !",
        "ar": "مع السلامة، يوما سعيدا!",
        "ary": "بالسلامة، نهارك مبروك!",
        "arq": "بالسلامة، نهارك مبروك!",
        "en": "Goodbye, have a nice day!",
    },
    "thanks": {
        "fr": "Avec plaisir ! Une autre question ?",
        "ar": "على الرحب والسعة! هل لديك سؤال آخر؟",
        "ary": "بلا جميل! عندك شي سؤال آخر؟",
        "arq": "مرحبا بيك! عندك سؤال آخر؟",
        "en": "You're welcome! Any other question?",
    },
    "cancel": {
        "fr": "D'accord, c'est annulé. Posez-moi une autre question quand vous voulez.",
        "ar": "حسنا، تم الإلغاء. يمكنك طرح سؤال آخر متى شئت.",
        "ary": "واخا، تلغى. سولني شي سؤال آخر وقتما بغيتي.",
        "arq": "واخا، تلغات. سقسيني سؤال آخر وقتاش تحب.",
        "en": "OK, cancelled. Ask me another question whenever you like.",
    },
    # action_unexpected (actions/conversation.py): what the dialogue has no step for.
    "unexpected": {
        "fr": "Je n'ai pas compris ce message. Posez-moi votre question par écrit : inscription, "
              "cotisations, paiement, droits santé, dettes, retraite...",
        "ar": "لم أفهم هذه الرسالة. اكتب سؤالك: التسجيل، الاشتراكات، الأداء، التغطية الصحية، "
              "الديون، التقاعد...",
        "ary": "ما فهمتش هاد الرسالة. كتب ليا سؤالك: التسجيل، الاشتراكات، الخلاص، التغطية الصحية، "
               "الديون، التقاعد...",
        "arq": "ما فهمتش هاد الرسالة. اكتبلي سؤالك: التسجيل، الاشتراكات، الخلاص، التأمين الصحي، "
               "الديون، التقاعد...",
        "en": "I did not understand this message. Please type your question: registration, contributions, "
              "payment, health rights, debts, retirement...",
    },
    "unexpected_in_form": {  # the balance form asks its question again right after
        "fr": "Je n'attendais pas ce message à cette étape.",
        "ar": "لم أكن أنتظر هذه الرسالة في هذه المرحلة.",
        "ary": "ما كنتش كنتسنى هاد الرسالة فهاد المرحلة.",
        "arq": "ما كنتش نستنى هاد الرسالة في هاد المرحلة.",
        "en": "I was not expecting this message at this step.",
    },
    "contact_unexpected": {
        "fr": "Je n'utilise un numéro de téléphone partagé que pour confirmer votre identité pendant la "
              "consultation de votre solde. Pour la commencer, écrivez « mon solde » ; sinon, "
              "posez-moi votre question.",
        "ar": "لا أستعمل رقم الهاتف الذي تشاركه إلا لتأكيد هويتك أثناء الاطلاع على رصيدك. "
              "للبدء اكتب «أريد الاطلاع على رصيدي»، أو اطرح سؤالك.",
        "ary": "كنستعمل رقم التيليفون غير باش نتأكد من هويتك فاش كتشوف الرصيد ديالك. "
               "باش تبدا كتب «الرصيد ديالي»، ولا سولني سؤالك.",
        "arq": "نستعمل رقم التيليفون غير باش نتأكد من هويتك كي تشوف الرصيد تاعك. "
               "باش تبدا اكتب «الرصيد تاعي»، ولا سقسيني سؤالك.",
        "en": "I only use a shared phone number to confirm your identity while you look up your balance. "
              "To start, type \"my balance\"; otherwise, ask me your question.",
    },
    "unreadable": {
        "fr": "Je n'ai rien pu lire dans votre message. Merci de l'écrire en texte.",
        "ar": "لم أتمكن من قراءة أي شيء في رسالتك. يرجى كتابتها نصا.",
        "ary": "ما قدرت نقرا والو فالرسالة ديالك. عافاك كتبها بالحروف.",
        "arq": "ما قدرتش نقرا والو في الرسالة تاعك. اكتبها بالحروف من فضلك.",
        "en": "I could not read anything in your message. Please type it as text.",
    },
    "measure_ended": {
        "fr": "Cette information concernait une mesure qui a pris fin le {date}. Pour les mesures en cours : {channels}",
        "ar": "تتعلق هذه المعلومة بإجراء انتهى في {date}. للإجراءات الجارية: {channels}",
        "en": "This information was about a measure that ended on {date}. For current measures: {channels}",
    },
}


def pick(key: str, lang: str) -> str:
    variants = MESSAGES[key]
    if lang in variants:
        return variants[lang]
    return variants["ar"] if lang in ("ary", "arq") else variants["fr"]


def say(key: str, lang: str, **values: str) -> str:
    return pick(key, lang).format(**values)
