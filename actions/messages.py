"""Every sentence the actions say, per reply language: the one catalogue of the action server.
A sentence not written in a language is said in the next language of its fallback chain
(registry.yml: Darija -> Modern Standard Arabic -> French, English -> French; see `say`)."""
from __future__ import annotations

from bot.registry import registry

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
    # ---- the balance look-up (actions/balance/) ----
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


def say(key: str, lang: str, **values: object) -> str:
    """Sentence `key` in `lang`, or along its fallback chain (registry.yml), filled with `values`."""
    return registry().in_language(MESSAGES[key], lang).format(**values)
