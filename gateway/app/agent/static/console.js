/* Sanad agent console (issue 16): sign-in, assist while the caller speaks, balance on behalf,
   audit log and suggestion acceptance for supervisors. No build step, no third-party code here
   (review-dashboard.js draws the dashboard with the vendored Chart.js).
   Every POST carries the session's CSRF token (X-CSRF-Token); any 401 sends the agent back to
   the sign-in form, saying when the session expired. */
(function () {
  "use strict";

  var API = "/agent/api";
  var DEBOUNCE_MS = 250;
  var SETTLED_MS = 1000; // a ranking on screen this long without being replaced counts as shown

  var TEXT = {
    fr: {
      brand: "Sanad – console des agents", logout: "Se déconnecter", login_title: "Connexion",
      name: "Identifiant", password: "Mot de passe", code: "Code de l'application d'authentification (6 chiffres)",
      sign_in: "Se connecter", sections: "Sections", tab_assist: "Assistance", tab_balance: "Solde d'un appelant",
      tab_audit: "Journal d'audit", tab_acceptance: "Suggestions",
      assist_title: "Ce que dit l'appelant",
      assist_label: "Tapez ou collez ses mots, dans sa langue (notes brèves acceptées)",
      assist_keys: "Alt+1, Alt+2, Alt+3 : copier la 1re, 2e, 3e réponse. Échap : effacer.",
      balance_title: "Solde pour le compte d'un appelant",
      balance_hint: "Vérifiez d'abord l'identité de l'appelant. Chaque consultation est enregistrée au journal d'audit, avec votre nom et le motif.",
      number: "Numéro d'affiliation", identity_check: "Vérification d'identité effectuée",
      reason: "Motif de la consultation", show_balance: "Afficher le solde",
      audit_title: "Journal des consultations de solde", agent: "Agent", since: "Du", until: "Au",
      filter: "Filtrer", export: "Exporter en CSV", when: "Date (UTC)", result: "Résultat",
      acceptance_title: "Suggestions copiées / affichées", caller_lang: "Langue de l'appelant", topic: "Sujet",
      shown: "Affichées", copied: "Copiées", rate: "Taux",
      choose_check: "— choisir —",
      checks: { id_card_and_birth_date: "N° de carte d'identité et date de naissance",
                birth_date_and_address: "Date de naissance et adresse",
                callback_to_phone_on_file: "Rappel au numéro enregistré au dossier",
                document_at_counter: "Pièce présentée au guichet" },
      langs: { fr: "français", ar: "arabe", ary: "darija marocaine", arq: "darija algérienne", en: "anglais" },
      searching: "Recherche…", nothing: "Aucune fiche ne correspond assez. Ne répondez pas de mémoire : reformulez, ou orientez l'appelant vers les canaux officiels.",
      found: "{n} réponse(s), langue de l'appelant : {lang}.", unavailable: "L'assistant ne répond pas pour le moment. Réessayez dans un instant.",
      copy: "Copier (Alt+{n})", copied_n: "Réponse {n} copiée.", copy_failed: "La copie a échoué : sélectionnez le texte à la main.",
      score: "pertinence {p} %", source: "Source", reviewed: "fiche vérifiée le {d}", answer_in: "Réponse en {lang}",
      invalid_credentials: "Identifiant ou mot de passe incorrect.", totp_required: "Entrez le code à 6 chiffres de votre application d'authentification.",
      invalid_code: "Code incorrect ou déjà utilisé. Attendez le code suivant.",
      too_many_attempts: "Trop de tentatives. Réessayez dans {m} minute(s).",
      session_expired: "Votre session a expiré. Reconnectez-vous.", signed_out: "Vous êtes déconnecté.",
      csrf_failed: "La requête a été refusée (jeton de sécurité). Rechargez la page.",
      error: "Une erreur est survenue. Réessayez.", fill_all: "Remplissez le numéro, la vérification d'identité et le motif (5 caractères au moins).",
      invalid_request: "Vérifiez le numéro (6 à 20 chiffres), la vérification d'identité et le motif.",
      not_found: "Aucun affilié de la caisse ne porte ce numéro. La consultation est enregistrée au journal (n° {id}).",
      backend_unavailable: "Le système de la caisse ne répond pas. La tentative est enregistrée au journal (n° {id}).",
      refused_by_backend: "Le système de la caisse a refusé la consultation. La tentative est enregistrée au journal (n° {id}).",
      console_not_configured: "La consultation de solde n'est pas configurée sur ce serveur. La tentative est enregistrée au journal (n° {id}).",
      audited: "Consultation enregistrée au journal d'audit (n° {id}).",
      b_ref: "Affilié", b_total: "Total dû", b_contrib: "Cotisations impayées", b_penalties: "Majorations",
      b_last: "Dernier paiement", b_next: "Prochaine échéance", b_plan: "Échéancier", b_rights: "Droits maladie",
      rights_open: "ouverts depuis le {d}", rights_closed: "fermés ({r})", none: "aucun",
      plan: "{n} échéance(s) restante(s), prochaine le {d} : {a}",
      rows: "{n} ligne(s).", no_rows: "Aucune ligne.", nothing_matched: "(aucune fiche)",
      results: { shown: "affiché", not_found: "numéro inconnu", backend_unavailable: "système indisponible",
                 refused_by_backend: "refusé", console_not_configured: "non configuré" }
    },
    ar: {
      brand: "سند – واجهة الوكلاء", logout: "تسجيل الخروج", login_title: "تسجيل الدخول",
      name: "اسم المستخدم", password: "كلمة المرور", code: "رمز تطبيق المصادقة (6 أرقام)",
      sign_in: "دخول", sections: "الأقسام", tab_assist: "المساعدة", tab_balance: "رصيد متصل",
      tab_audit: "سجل التدقيق", tab_acceptance: "الاقتراحات",
      assist_title: "ما يقوله المتصل",
      assist_label: "اكتب أو الصق كلامه بلغته (تقبل الملاحظات المختصرة)",
      assist_keys: "Alt+1 وAlt+2 وAlt+3: نسخ الجواب الأول والثاني والثالث. Esc: مسح.",
      balance_title: "الرصيد نيابة عن متصل",
      balance_hint: "تحقق أولا من هوية المتصل. كل اطلاع يسجل في سجل التدقيق باسمك وبسببه.",
      number: "رقم الانخراط", identity_check: "طريقة التحقق من الهوية",
      reason: "سبب الاطلاع", show_balance: "عرض الرصيد",
      audit_title: "سجل الاطلاع على الأرصدة", agent: "الوكيل", since: "من", until: "إلى",
      filter: "تصفية", export: "تصدير CSV", when: "التاريخ (UTC)", result: "النتيجة",
      acceptance_title: "الاقتراحات المنسوخة / المعروضة", caller_lang: "لغة المتصل", topic: "الموضوع",
      shown: "المعروضة", copied: "المنسوخة", rate: "النسبة",
      choose_check: "— اختر —",
      checks: { id_card_and_birth_date: "رقم بطاقة التعريف وتاريخ الازدياد",
                birth_date_and_address: "تاريخ الازدياد والعنوان",
                callback_to_phone_on_file: "معاودة الاتصال بالرقم المسجل في الملف",
                document_at_counter: "وثيقة قدمت في الشباك" },
      langs: { fr: "الفرنسية", ar: "العربية", ary: "الدارجة المغربية", arq: "الدارجة الجزائرية", en: "الإنجليزية" },
      searching: "جار البحث…", nothing: "لا توجد بطاقة مطابقة بما يكفي. لا تجب من الذاكرة: أعد الصياغة أو وجه المتصل إلى القنوات الرسمية.",
      found: "{n} جواب، لغة المتصل: {lang}.", unavailable: "المساعد لا يجيب حاليا. أعد المحاولة بعد لحظة.",
      copy: "نسخ (Alt+{n})", copied_n: "تم نسخ الجواب {n}.", copy_failed: "تعذر النسخ: حدد النص يدويا.",
      score: "الملاءمة {p}٪", source: "المصدر", reviewed: "روجعت البطاقة في {d}", answer_in: "الجواب بـ{lang}",
      invalid_credentials: "اسم المستخدم أو كلمة المرور غير صحيحة.", totp_required: "أدخل الرمز المكون من 6 أرقام من تطبيق المصادقة.",
      invalid_code: "رمز غير صحيح أو سبق استعماله. انتظر الرمز التالي.",
      too_many_attempts: "محاولات كثيرة. أعد المحاولة بعد {m} دقيقة.",
      session_expired: "انتهت جلستك. سجل الدخول من جديد.", signed_out: "تم تسجيل خروجك.",
      csrf_failed: "رفض الطلب (رمز الأمان). أعد تحميل الصفحة.",
      error: "حدث خطأ. أعد المحاولة.", fill_all: "املأ الرقم وطريقة التحقق والسبب (5 أحرف على الأقل).",
      invalid_request: "تحقق من الرقم (من 6 إلى 20 رقما) وطريقة التحقق والسبب.",
      not_found: "لا يوجد منخرط بهذا الرقم في الصندوق. سجلت المحاولة في السجل (رقم {id}).",
      backend_unavailable: "نظام الصندوق لا يجيب. سجلت المحاولة في السجل (رقم {id}).",
      refused_by_backend: "رفض نظام الصندوق الاطلاع. سجلت المحاولة في السجل (رقم {id}).",
      console_not_configured: "الاطلاع على الرصيد غير مهيأ في هذا الخادم. سجلت المحاولة في السجل (رقم {id}).",
      audited: "سجل الاطلاع في سجل التدقيق (رقم {id}).",
      b_ref: "المنخرط", b_total: "المجموع المستحق", b_contrib: "اشتراكات غير مؤداة", b_penalties: "الزيادات",
      b_last: "آخر أداء", b_next: "الاستحقاق القادم", b_plan: "جدولة", b_rights: "الحقوق الصحية",
      rights_open: "مفتوحة منذ {d}", rights_closed: "مغلقة ({r})", none: "لا شيء",
      plan: "{n} أقساط متبقية، القادم في {d}: {a}",
      rows: "{n} سطر.", no_rows: "لا توجد أسطر.", nothing_matched: "(لا بطاقة)",
      results: { shown: "عرض", not_found: "رقم غير معروف", backend_unavailable: "النظام غير متاح",
                 refused_by_backend: "مرفوض", console_not_configured: "غير مهيأ" }
    }
  };

  var state = { ui: localStorage.getItem("sanad-agent-ui") === "ar" ? "ar" : "fr", me: null, csrf: null,
                timer: null, seq: 0, ranking: null, settleTimer: null, tab: "assist" };

  function $(id) { return document.getElementById(id); }
  function t(key, values) {
    var text = TEXT[state.ui][key];
    if (text === undefined) { text = TEXT.fr[key] !== undefined ? TEXT.fr[key] : key; }
    Object.keys(values || {}).forEach(function (name) { text = text.split("{" + name + "}").join(values[name]); });
    return text;
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  // Right to left: the account's languages in Arabic script (registry.yml, given at sign-in); before
  // sign-in only the interface language matters, and of those only Arabic is.
  function isRtl(lang) { return (state.me ? state.me.rtl_languages : ["ar"]).indexOf(lang) >= 0; }
  function setStatus(id, text, kind) {
    var node = $(id);
    node.textContent = text || "";
    node.className = "status" + (kind ? " " + kind : "");
  }

  // ---- API ---------------------------------------------------------------------------------

  function call(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    if (method !== "GET" && state.csrf) { headers["X-CSRF-Token"] = state.csrf; }
    return fetch(API + path, { method: method, headers: headers, credentials: "same-origin",
                               body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (response) {
        var parse = response.status === 204 ? Promise.resolve(null) : response.json().catch(function () { return null; });
        return parse.then(function (data) {
          var detail = data && data.detail && !Array.isArray(data.detail) ? data.detail : {};
          if (response.status === 401 && path !== "/auth/login") { signedOut(detail.code); }
          return { ok: response.ok, status: response.status, data: data, code: detail.code, detail: detail };
        });
      });
  }

  // ---- language ----------------------------------------------------------------------------

  function applyLanguage() {
    document.documentElement.lang = state.ui;
    document.documentElement.dir = isRtl(state.ui) ? "rtl" : "ltr";
    document.title = t("brand");
    document.querySelectorAll("[data-i18n]").forEach(function (node) { node.textContent = t(node.dataset.i18n); });
    document.querySelectorAll("[data-i18n-aria]").forEach(function (node) {
      node.setAttribute("aria-label", t(node.dataset.i18nAria));
    });
    var other = state.ui === "fr" ? "ar" : "fr";
    var switcher = $("lang-switch");
    switcher.textContent = other === "ar" ? "العربية" : "Français";
    switcher.lang = other;
    document.dispatchEvent(new CustomEvent("sanad:lang", { detail: { ui: state.ui } }));
    if (state.me) {
      $("fund-name").textContent = state.me.fund_name[state.ui] || state.me.fund;
      fillChecks();
      if (state.ranking) { renderRanking(state.ranking); }
    }
  }

  function switchLanguage() {
    state.ui = state.ui === "fr" ? "ar" : "fr";
    localStorage.setItem("sanad-agent-ui", state.ui);
    applyLanguage();
    if ($("assist-input").value.trim()) { scheduleAssist(0); }
  }

  // ---- sign-in -------------------------------------------------------------------------------

  function showLogin(message) {
    state.me = null; state.csrf = null;
    $("console-view").hidden = true;
    $("logout").hidden = true;
    $("who").textContent = "";
    $("fund-name").textContent = "";
    $("login-view").hidden = false;
    $("code-field").hidden = true;
    $("login-code").value = "";
    $("login-password").value = "";
    setStatus("login-status", message || "", message ? "error" : "");
    $("login-name").focus();
  }

  function signedOut(code) {
    if (state.me) { showLogin(t(code === "session_expired" ? "session_expired" : "signed_out")); }
  }

  function showConsole(me) {
    state.me = me; state.csrf = me.csrf_token;
    $("login-view").hidden = true;
    $("console-view").hidden = false;
    $("logout").hidden = false;
    $("who").textContent = me.name;
    document.querySelectorAll(".supervisor-only").forEach(function (node) { node.hidden = me.role !== "supervisor"; });
    applyLanguage();
    selectTab("assist");
  }

  function login(event) {
    event.preventDefault();
    var body = { name: $("login-name").value.trim(), password: $("login-password").value };
    if (!$("code-field").hidden && $("login-code").value.trim()) { body.code = $("login-code").value.trim(); }
    call("POST", "/auth/login", body).then(function (answer) {
      if (answer.ok) { showConsole(answer.data); return; }
      if (answer.code === "totp_required" || answer.code === "invalid_code") {
        $("code-field").hidden = false;
        setStatus("login-status", t(answer.code), answer.code === "invalid_code" ? "error" : "");
        $("login-code").value = "";
        $("login-code").focus();
        return;
      }
      var minutes = Math.max(1, Math.ceil((answer.detail.retry_after || 60) / 60));
      setStatus("login-status", t(answer.code === "too_many_attempts" ? "too_many_attempts" :
                                    answer.code === "invalid_credentials" ? "invalid_credentials" : "error", { m: minutes }), "error");
      $("login-password").value = "";
      $("login-password").focus();
    }).catch(function () { setStatus("login-status", t("error"), "error"); });
  }

  function logout() {
    call("POST", "/auth/logout").then(function () { showLogin(t("signed_out")); });
  }

  // ---- tabs ------------------------------------------------------------------------------------

  function selectTab(name) {
    state.tab = name;
    document.querySelectorAll(".tab").forEach(function (tab) {
      if (tab.dataset.tab === name) { tab.setAttribute("aria-current", "page"); } else { tab.removeAttribute("aria-current"); }
    });
    document.querySelectorAll("#console-view > .panel").forEach(function (panel) { panel.hidden = panel.id !== "tab-" + name; });
    // Views in their own scripts (review-dashboard.js) load their data on this event.
    document.dispatchEvent(new CustomEvent("sanad:tab", { detail: { tab: name } }));
    if (name === "assist") { $("assist-input").focus(); }
    if (name === "balance") { $("balance-number").focus(); }
    if (name === "audit") { loadAudit(); }
    if (name === "acceptance") { loadAcceptance(); }
  }

  // ---- assist ----------------------------------------------------------------------------------

  function scheduleAssist(delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(runAssist, delay === undefined ? DEBOUNCE_MS : delay);
  }

  function runAssist() {
    var text = $("assist-input").value.trim();
    var seq = ++state.seq;
    if (!text) { clearAssist(); return; }
    setStatus("assist-status", t("searching"));
    $("assist-results").setAttribute("aria-busy", "true");
    call("POST", "/assist", { text: text, ui_lang: state.ui }).then(function (answer) {
      if (seq !== state.seq) { return; } // a newer keystroke's answer is on its way
      $("assist-results").removeAttribute("aria-busy");
      if (answer.status === 401) { return; }
      if (!answer.ok) { state.ranking = null; $("assist-results").textContent = "";
                        setStatus("assist-status", t(answer.code === "csrf_failed" ? "csrf_failed" : "unavailable"), "error"); return; }
      state.ranking = answer.data;
      renderRanking(answer.data);
      clearTimeout(state.settleTimer);
      var rankingId = answer.data.ranking_id;
      state.settleTimer = setTimeout(function () { reportShown(rankingId); }, SETTLED_MS);
    }).catch(function () {
      if (seq === state.seq) { setStatus("assist-status", t("unavailable"), "error"); }
    });
  }

  function clearAssist() {
    state.seq++; state.ranking = null;
    clearTimeout(state.timer); clearTimeout(state.settleTimer);
    $("assist-results").textContent = "";
    $("assist-results").removeAttribute("aria-busy");
    setStatus("assist-status", "");
  }

  function answerBlock(lang, text) {
    var block = el("div", {});
    block.appendChild(el("p", { "class": "answer-lang" }, t("answer_in", { lang: t("langs")[lang] || lang })));
    block.appendChild(el("p", { "class": "answer", lang: lang, dir: isRtl(lang) ? "rtl" : "ltr" }, text));
    return block;
  }

  function renderRanking(ranking) {
    var list = $("assist-results");
    list.textContent = "";
    var entries = ranking.entries || [];
    var callerLang = ranking.lang;
    if (!entries.length) { setStatus("assist-status", t("nothing"), "empty"); return; }
    setStatus("assist-status", t("found", { n: entries.length, lang: t("langs")[callerLang] || callerLang }));
    entries.forEach(function (entry, index) {
      var n = index + 1;
      var item = el("li", { "class": "result", id: "result-" + n, "data-topic": entry.topic });
      var head = el("header", {});
      head.appendChild(el("h2", {}, n + ". " + entry.title));
      head.appendChild(el("span", { "class": "score" }, t("score", { p: Math.round((entry.score || 0) * 100) })));
      item.appendChild(head);
      var replyLang = entry.reply_lang && entry.answer[entry.reply_lang] ? entry.reply_lang : Object.keys(entry.answer)[0];
      item.appendChild(answerBlock(replyLang, entry.answer[replyLang]));
      var uiLang = entry.answer[state.ui] ? state.ui : null;
      if (uiLang && uiLang !== replyLang) { item.appendChild(answerBlock(uiLang, entry.answer[uiLang])); }
      (entry.sources || []).slice(0, 2).forEach(function (source) {
        var line = el("p", { "class": "source" }, t("source") + " : ");
        var label = [source.title, source.publisher, source.date].filter(Boolean).join(", ");
        if (source.url && /^https?:\/\//.test(source.url)) {
          line.appendChild(el("a", { href: source.url, target: "_blank", rel: "noopener noreferrer" }, label));
        } else { line.appendChild(document.createTextNode(label)); }
        item.appendChild(line);
      });
      if (entry.reviewed) { item.appendChild(el("p", { "class": "source" }, t("reviewed", { d: entry.reviewed }))); }
      var button = el("button", { type: "button", "class": "copy", "data-rank": String(n), "aria-keyshortcuts": "Alt+" + n },
                      t("copy", { n: n }));
      button.addEventListener("click", function () { copyAnswer(n); });
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function reportShown(rankingId) {
    if (state.ranking && state.ranking.ranking_id === rankingId && !state.ranking.shownReported) {
      state.ranking.shownReported = true;
      call("POST", "/assist/events", { ranking_id: rankingId, event: "shown" });
    }
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) { return navigator.clipboard.writeText(text); }
    return new Promise(function (resolve, reject) {
      var area = el("textarea", { "aria-hidden": "true", "class": "visually-hidden" });
      area.value = text;
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      (ok ? resolve : reject)();
    });
  }

  function copyAnswer(n) {
    var ranking = state.ranking;
    if (!ranking || !ranking.entries || !ranking.entries[n - 1]) { return; }
    var entry = ranking.entries[n - 1];
    var lang = entry.reply_lang && entry.answer[entry.reply_lang] ? entry.reply_lang : Object.keys(entry.answer)[0];
    copyText(entry.answer[lang]).then(function () {
      document.querySelectorAll(".result.copied").forEach(function (node) { node.classList.remove("copied"); });
      var item = $("result-" + n);
      if (item) { item.classList.add("copied"); }
      setStatus("assist-status", t("copied_n", { n: n }));
      reportShown(ranking.ranking_id);
      call("POST", "/assist/events", { ranking_id: ranking.ranking_id, event: "copied", rank: n });
    }, function () { setStatus("assist-status", t("copy_failed"), "error"); });
  }

  // ---- balance on behalf -----------------------------------------------------------------------

  function fillChecks() {
    var select = $("balance-check");
    var chosen = select.value;
    select.textContent = "";
    select.appendChild(el("option", { value: "" }, t("choose_check")));
    (state.me.identity_checks || []).forEach(function (id) {
      select.appendChild(el("option", { value: id }, t("checks")[id] || id));
    });
    select.value = chosen;
  }

  function money(amount, currency) { return amount + " " + currency; }

  function renderBalance(result) {
    var b = result.balance;
    var box = $("balance-result");
    box.textContent = "";
    box.className = "card balance";
    var list = el("dl", {});
    function row(label, value) { list.appendChild(el("dt", {}, label)); list.appendChild(el("dd", {}, value)); }
    row(t("b_ref"), b.affiliate_ref);
    row(t("b_total"), money(b.total_due, b.currency));
    row(t("b_contrib"), b.contributions_due.length ? b.contributions_due.map(function (c) {
      return c.period + " : " + money(c.amount, b.currency); }).join(" · ") : t("none"));
    row(t("b_penalties"), money(b.penalties_due, b.currency));
    row(t("b_last"), b.last_payment ? b.last_payment.date + " : " + money(b.last_payment.amount, b.currency) : t("none"));
    row(t("b_next"), b.next_deadline ? b.next_deadline.date + " : " + money(b.next_deadline.amount, b.currency) : t("none"));
    if (b.instalment_plan) {
      row(t("b_plan"), t("plan", { n: b.instalment_plan.instalments_left, d: b.instalment_plan.next_instalment_date,
                                    a: money(b.instalment_plan.amount, b.currency) }));
    }
    row(t("b_rights"), b.health_rights.open ? t("rights_open", { d: b.health_rights.since })
                                            : t("rights_closed", { r: b.health_rights.reason }));
    box.appendChild(list);
    box.hidden = false;
  }

  function lookupBalance(event) {
    event.preventDefault();
    var body = { affiliate_number: $("balance-number").value.trim(), identity_check: $("balance-check").value,
                 reason: $("balance-reason").value.trim() };
    $("balance-result").hidden = true;
    if (!body.affiliate_number || !body.identity_check || body.reason.length < 5) {
      setStatus("balance-status", t("fill_all"), "error"); return;
    }
    setStatus("balance-status", t("searching"));
    call("POST", "/balance-lookups", body).then(function (answer) {
      if (answer.status === 401) { return; }
      if (answer.ok) { renderBalance(answer.data); setStatus("balance-status", t("audited", { id: answer.data.audit_id })); return; }
      var code = answer.code || (answer.status === 422 ? "invalid_request" : "error");
      setStatus("balance-status", t(TEXT.fr[code] ? code : "error", { id: answer.detail.audit_id }), "error");
    }).catch(function () { setStatus("balance-status", t("error"), "error"); });
  }

  // ---- supervisors -------------------------------------------------------------------------------

  function auditQuery() {
    var params = new URLSearchParams();
    ["agent", "since", "until", "number"].forEach(function (name) {
      var value = $("audit-" + name).value.trim();
      if (value) { params.set(name, value); }
    });
    return params.toString();
  }

  function loadAudit(event) {
    if (event) { event.preventDefault(); }
    var query = auditQuery();
    $("audit-export").setAttribute("href", API + "/audit.csv" + (query ? "?" + query : ""));
    call("GET", "/audit" + (query ? "?" + query : "")).then(function (answer) {
      var body = document.querySelector("#audit-table tbody");
      body.textContent = "";
      if (!answer.ok) { if (answer.status !== 401) { setStatus("audit-status", t(answer.status === 422 ? "invalid_request" : "error"), "error"); } return; }
      answer.data.rows.forEach(function (row) {
        var tr = el("tr", {});
        [row.id, row.at.replace("T", " ").replace("Z", ""), row.agent, row.masked_number,
         t("checks")[row.identity_check] || row.identity_check, row.reason,
         t("results")[row.result] || row.result].forEach(function (value) { tr.appendChild(el("td", {}, String(value))); });
        body.appendChild(tr);
      });
      setStatus("audit-status", answer.data.rows.length ? t("rows", { n: answer.data.rows.length }) : t("no_rows"));
    });
  }

  function loadAcceptance() {
    call("GET", "/assist/acceptance").then(function (answer) {
      var body = document.querySelector("#acceptance-table tbody");
      body.textContent = "";
      if (!answer.ok) { return; }
      answer.data.rows.forEach(function (row) {
        var tr = el("tr", {});
        [t("langs")[row.lang] || row.lang, row.topic || t("nothing_matched"), row.shown, row.copied,
         row.rate === null ? "–" : Math.round(row.rate * 100) + " %"].forEach(function (value) {
          tr.appendChild(el("td", {}, String(value)));
        });
        body.appendChild(tr);
      });
      setStatus("acceptance-status", answer.data.rows.length ? t("rows", { n: answer.data.rows.length }) : t("no_rows"));
    });
  }

  // ---- keyboard ------------------------------------------------------------------------------------

  function onKey(event) {
    if (!state.me || state.tab !== "assist") { return; }
    var n = ["1", "2", "3"].indexOf(event.key) + 1;
    if (!n && /^Digit[123]$/.test(event.code || "")) { n = Number(event.code.slice(5)); }
    if (n && (event.altKey || event.ctrlKey) && !event.shiftKey) {
      event.preventDefault();
      copyAnswer(n);
    } else if (event.key === "Escape" && document.activeElement === $("assist-input")) {
      $("assist-input").value = "";
      clearAssist();
    }
  }

  // ---- start ---------------------------------------------------------------------------------------

  function start() {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("lang-switch").addEventListener("click", switchLanguage);
    $("assist-input").addEventListener("input", function () { scheduleAssist(); });
    $("balance-form").addEventListener("submit", lookupBalance);
    $("audit-form").addEventListener("submit", loadAudit);
    document.querySelectorAll(".tab").forEach(function (tab) {
      tab.addEventListener("click", function () { selectTab(tab.dataset.tab); });
    });
    document.addEventListener("keydown", onKey);
    applyLanguage();
    call("GET", "/auth/me").then(function (answer) {
      if (answer.ok) { showConsole(answer.data); } else { showLogin(); }
    }).catch(function () { showLogin(t("error")); });
  }

  // What the console's other scripts share: the API call (CSRF, 401), the interface language,
  // the signed-in account and the tabs.
  window.SanadConsole = { call: call, ui: function () { return state.ui; }, me: function () { return state.me; },
                          isRtl: isRtl, selectTab: function (name) { selectTab(name); } };
  document.addEventListener("DOMContentLoaded", start);
}());
