/* Sanad agent console, issue 17: the live handoff inbox. The fund's conversations waiting for a
   person or held by one, updated as they happen (Server-Sent Events, /agent/api/inbox/events);
   claim one, read its transcript (personal data masked by the server), reply (Ctrl+Enter), insert
   a suggested answer (Alt+1/2/3), hand it back to the assistant or close it with an outcome.
   Uses console.js's window.SanadConsole; its texts carry data-ib keys, translated here. */
(function () {
  "use strict";

  var API = "/agent/api";
  var TICK_MS = 15000; // waiting times and "gone" are redrawn this often

  var TEXT = {
    fr: {
      tab_inbox: "Conversations", inbox_title: "Conversations transférées par l'assistant",
      inbox_hint: "Citoyens qui ont demandé une personne, ou que l'assistant n'a pas su aider. Les données personnelles sont masquées.",
      open_now: "Ouvert : les citoyens sont prévenus qu'un conseiller répond ici.",
      closed_now: "Fermé : les demandes attendent la prochaine ouverture ({when}).",
      waiting_list: "File d'attente", nothing_waiting: "Aucune conversation en attente.",
      item: "{channel} · {lang} · {status} depuis {wait}", held_by: "prise par {name}", held_by_me: "prise par vous",
      waiting: "en attente", claimed: "en cours", gone: "parti", reason_failures: "après deux échecs de l'assistant",
      reason_asked: "a demandé une personne",
      transcript: "Conversation", citizen: "Citoyen", assistant: "Assistant", agent: "Conseiller", system: "Info",
      claim: "Prendre la conversation", claimed_ok: "Conversation prise. Le citoyen est prévenu.",
      already_claimed: "Un autre agent a pris cette conversation.", not_yours: "Cette conversation n'est plus la vôtre.",
      reply: "Votre réponse au citoyen (Ctrl+Entrée pour envoyer)", send: "Envoyer", sent: "Réponse envoyée.",
      hand_back: "Rendre à l'assistant", handed_back: "Conversation rendue à l'assistant.",
      outcome: "Issue", close: "Clore", closed: "Conversation close.",
      outcomes: { resolved: "Résolu", referred: "Orienté vers un autre canal", citizen_left: "Citoyen parti",
                  not_resolved: "Non résolu", abusive: "Abusif" },
      suggestions: "Réponses suggérées (Alt+1, Alt+2, Alt+3 : insérer)", insert: "Insérer (Alt+{n})",
      no_suggestion: "Aucune fiche ne correspond assez.", suggestions_unavailable: "Suggestions indisponibles pour le moment.",
      channels: { web: "Widget web", telegram: "Telegram" },
      langs: { fr: "français", ar: "arabe", ary: "darija marocaine", arq: "darija algérienne", en: "anglais" },
      minutes: "{n} min", seconds: "{n} s", new_waiting: "Nouvelle conversation en attente.",
      error: "Une erreur est survenue. Réessayez.", empty_reply: "Écrivez une réponse."
    },
    ar: {
      tab_inbox: "المحادثات", inbox_title: "المحادثات المحولة من المساعد",
      inbox_hint: "مواطنون طلبوا التحدث إلى موظف، أو لم يتمكن المساعد من مساعدتهم. المعطيات الشخصية محجوبة.",
      open_now: "مفتوح: يُخبَر المواطنون بأن مستشارا سيجيبهم هنا.",
      closed_now: "مغلق: تنتظر الطلبات الافتتاح القادم ({when}).",
      waiting_list: "قائمة الانتظار", nothing_waiting: "لا توجد محادثات في الانتظار.",
      item: "{channel} · {lang} · {status} منذ {wait}", held_by: "يتولاها {name}", held_by_me: "تتولاها أنت",
      waiting: "في الانتظار", claimed: "جارية", gone: "غادر", reason_failures: "بعد إخفاقين للمساعد",
      reason_asked: "طلب التحدث إلى موظف",
      transcript: "المحادثة", citizen: "المواطن", assistant: "المساعد", agent: "المستشار", system: "معلومة",
      claim: "تولي المحادثة", claimed_ok: "توليت المحادثة. تم إخبار المواطن.",
      already_claimed: "تولى وكيل آخر هذه المحادثة.", not_yours: "لم تعد هذه المحادثة من مسؤوليتك.",
      reply: "ردك على المواطن (Ctrl+Enter للإرسال)", send: "إرسال", sent: "تم إرسال الرد.",
      hand_back: "إعادة إلى المساعد", handed_back: "أعيدت المحادثة إلى المساعد.",
      outcome: "النتيجة", close: "إغلاق", closed: "أغلقت المحادثة.",
      outcomes: { resolved: "تمت التسوية", referred: "وجه إلى قناة أخرى", citizen_left: "غادر المواطن",
                  not_resolved: "لم تتم التسوية", abusive: "مسيء" },
      suggestions: "أجوبة مقترحة (Alt+1 وAlt+2 وAlt+3: إدراج)", insert: "إدراج (Alt+{n})",
      no_suggestion: "لا توجد بطاقة مطابقة بما يكفي.", suggestions_unavailable: "الاقتراحات غير متاحة حاليا.",
      channels: { web: "نافذة الموقع", telegram: "تيليغرام" },
      langs: { fr: "الفرنسية", ar: "العربية", ary: "الدارجة المغربية", arq: "الدارجة الجزائرية", en: "الإنجليزية" },
      minutes: "{n} د", seconds: "{n} ث", new_waiting: "محادثة جديدة في الانتظار.",
      error: "حدث خطأ. أعد المحاولة.", empty_reply: "اكتب ردا."
    }
  };

  var view = { account: null, items: [], loadedAt: 0, serverNow: 0, goneAfter: 120, selected: null, conversation: null,
               suggestions: [], rankingId: null, stream: null, tab: null, tick: null, suggestTimer: null };

  function api() { return window.SanadConsole; }
  function ui() { return api().ui(); }
  function me() { return api().me(); }
  function $(id) { return document.getElementById(id); }
  function t(key, values) {
    var text = TEXT[ui()][key];
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
  function setStatus(text, kind) {
    var node = $("inbox-status");
    node.textContent = text || "";
    node.className = "status" + (kind ? " " + kind : "");
  }
  function isRtl(lang) { return api().isRtl(lang); }
  function duration(seconds) {
    return seconds < 60 ? t("seconds", { n: seconds }) : t("minutes", { n: Math.floor(seconds / 60) });
  }
  // The server's clock now (tests move it by hand): its `now` at the last load, plus the time since.
  function serverNow() { return view.serverNow + (Date.now() - view.loadedAt); }
  function waited(item) {
    if (item.status !== "waiting") { return item.waiting_seconds; }
    return Math.max(0, Math.round((serverNow() - Date.parse(item.created_at)) / 1000));
  }
  function gone(item) {
    return item.left_at ? serverNow() - Date.parse(item.left_at) >= view.goneAfter * 1000 : false;
  }

  // ---- the list ------------------------------------------------------------------------------

  function loadInbox() {
    return api().call("GET", "/inbox").then(function (answer) {
      if (!answer.ok) { return; }
      var body = answer.data;
      view.items = body.items;
      view.loadedAt = Date.now();
      view.serverNow = Date.parse(body.now);
      view.goneAfter = body.gone_after_seconds;
      $("inbox-hours").textContent = body.open ? t("open_now") :
        t("closed_now", { when: body.next_opening ? body.next_opening.replace("T", " ").slice(0, 16) : "—" });
      renderList();
    }).catch(offline);
  }

  // A failed request (the server restarting, the network gone): said, never an unhandled error.
  function offline() { setStatus(t("error"), "error"); }

  function renderList() {
    var list = $("inbox-list");
    var focused = list.contains(document.activeElement) ? document.activeElement.closest("li").dataset.id : null;
    list.textContent = "";
    $("inbox-empty").hidden = view.items.length > 0;
    view.items.forEach(function (item) {
      var li = el("li", { "class": "inbox-item" + (item.id === view.selected ? " selected" : ""), "data-id": String(item.id),
                         "data-status": item.status });
      var status = gone(item) ? t("gone") : t(item.status);
      var button = el("button", { type: "button", "aria-pressed": String(item.id === view.selected) },
                      t("item", { channel: t("channels")[item.channel] || item.channel, lang: t("langs")[item.lang] || item.lang,
                                  status: status, wait: duration(waited(item)) }));
      button.addEventListener("click", function () { select(item.id); });
      li.appendChild(button);
      var meta = item.status === "claimed" ? (item.agent === (me() || {}).name ? t("held_by_me") : t("held_by", { name: item.agent }))
                                          : t("reason_" + item.reason);
      li.appendChild(el("span", { "class": "meta" }, meta));
      list.appendChild(li);
      if (focused === String(item.id)) { button.focus(); }  // a redraw never moves the keyboard
    });
    updateBadge();
  }

  function updateBadge() {
    var waiting = view.items.filter(function (item) { return item.status === "waiting"; }).length;
    var tab = document.querySelector('.tab[data-tab="inbox"]');
    if (tab) { tab.textContent = t("tab_inbox") + (waiting ? " (" + waiting + ")" : ""); }
  }

  function upsert(summary) {
    var open = summary.status === "waiting" || summary.status === "claimed";
    var known = view.items.some(function (item) { return item.id === summary.id; });
    view.items = view.items.filter(function (item) { return item.id !== summary.id; });
    if (open) {
      view.items.push(summary);
      view.items.sort(function (a, b) { return a.id - b.id; });
      if (!known && summary.status === "waiting") { $("inbox-live").textContent = t("new_waiting"); }
    }
    renderList();
    if (view.conversation && view.conversation.id === summary.id) {
      Object.keys(summary).forEach(function (key) { view.conversation[key] = summary[key]; });
      view.conversation.mine = summary.agent === (me() || {}).name && summary.status === "claimed";
      renderConversation();
    }
  }

  // ---- one conversation ------------------------------------------------------------------------

  function select(id) {
    view.selected = id;
    renderList();
    return api().call("GET", "/inbox/" + id).then(function (answer) {
      if (!answer.ok) { setStatus(t("error"), "error"); return; }
      view.conversation = answer.data;
      view.suggestions = [];
      renderConversation();
      $("inbox-transcript").focus();
      loadSuggestions();
    }).catch(offline);
  }

  function renderConversation() {
    var c = view.conversation;
    $("inbox-conversation").hidden = !c;
    if (!c) { return; }
    var open = c.status === "waiting" || c.status === "claimed";
    $("inbox-claim").hidden = c.status !== "waiting";
    $("inbox-reply-form").hidden = !c.mine;
    $("inbox-hand-back").hidden = !c.mine;
    $("inbox-close-form").hidden = !(open && (c.mine || c.status === "waiting"));
    $("inbox-conversation-meta").textContent = [t("channels")[c.channel] || c.channel, t("langs")[c.lang] || c.lang,
                                                t("reason_" + c.reason)].join(" · ");
    var lines = $("inbox-lines");
    lines.textContent = "";
    c.transcript.forEach(function (line) { lines.appendChild(lineItem(line)); });
    $("inbox-transcript").scrollTop = $("inbox-transcript").scrollHeight;
    renderSuggestions();
  }

  function lineItem(line) {
    var li = el("li", { "class": "line line-" + line.sender, "data-id": String(line.id) });
    li.appendChild(el("span", { "class": "who" }, t(line.sender) + (line.author ? " (" + line.author + ")" : "") + " : "));
    var text = el("span", { "class": "text", dir: "auto" }, line.text);
    li.appendChild(text);
    return li;
  }

  function addLine(handoffId, line) {
    var c = view.conversation;
    if (!c || c.id !== handoffId || c.transcript.some(function (l) { return l.id === line.id; })) { return; }
    c.transcript.push(line);
    $("inbox-lines").appendChild(lineItem(line));
    $("inbox-transcript").scrollTop = $("inbox-transcript").scrollHeight;
    if (line.sender === "citizen") {
      clearTimeout(view.suggestTimer);
      view.suggestTimer = setTimeout(loadSuggestions, 300);
    }
  }

  function loadSuggestions() {
    var c = view.conversation;
    if (!c) { return; }
    api().call("GET", "/inbox/" + c.id + "/suggestions?ui_lang=" + ui()).then(function (answer) {
      if (!view.conversation || view.conversation.id !== c.id) { return; }
      view.suggestions = answer.ok ? answer.data.entries : null;
      view.rankingId = answer.ok ? answer.data.ranking_id : null;
      renderSuggestions();
    }).catch(function () { view.suggestions = null; renderSuggestions(); });
  }

  function renderSuggestions() {
    var list = $("inbox-suggestions");
    list.textContent = "";
    var status = $("inbox-suggestions-status");
    if (view.suggestions === null) { status.textContent = t("suggestions_unavailable"); return; }
    status.textContent = view.suggestions.length ? "" : t("no_suggestion");
    view.suggestions.forEach(function (entry, index) {
      var lang = citizenLang(entry);
      var text = (entry.answer || {})[lang] || "";
      var li = el("li", { "class": "suggestion", "data-topic": entry.topic });
      li.appendChild(el("p", { "class": "title" }, (index + 1) + ". " + (entry.title || entry.topic)));
      li.appendChild(el("p", { "class": "answer", lang: lang, dir: isRtl(lang) ? "rtl" : "ltr" }, text));
      var insert = el("button", { type: "button", "class": "insert" }, t("insert", { n: index + 1 }));
      insert.addEventListener("click", function () { insertSuggestion(index); });
      li.appendChild(insert);
      list.appendChild(li);
    });
  }

  // The answer in the citizen's language (the conversation's), else the one the ranking chose.
  function citizenLang(entry) {
    var answers = entry.answer || {};
    var own = view.conversation && view.conversation.lang;
    if (own && answers[own]) { return own; }
    return entry.reply_lang && answers[entry.reply_lang] ? entry.reply_lang : Object.keys(answers)[0];
  }

  function insertSuggestion(index) {
    var entry = (view.suggestions || [])[index];
    if (!entry || !view.conversation || !view.conversation.mine) { return; }
    var lang = citizenLang(entry);
    var box = $("inbox-reply");
    box.value = (box.value ? box.value + "\n" : "") + (entry.answer || {})[lang];
    box.focus();
    if (view.rankingId) {
      api().call("POST", "/assist/events", { ranking_id: view.rankingId, event: "copied", rank: index + 1 }).catch(function () {});
    }
  }

  // ---- actions -----------------------------------------------------------------------------------

  function act(path, body, done) {
    var c = view.conversation;
    return api().call("POST", "/inbox/" + c.id + path, body).then(function (answer) {
      if (answer.ok) { setStatus(t(done)); return answer; }
      setStatus(t(answer.code === "already_claimed" ? "already_claimed" : answer.code === "not_yours" ? "not_yours" : "error"), "error");
      loadInbox();
      return answer;
    }, function () { offline(); return { ok: false }; });
  }

  function claim() {
    act("/claim", undefined, "claimed_ok").then(function (answer) {
      if (answer.ok) { select(view.conversation.id).then(function () { $("inbox-reply").focus(); }); }
    });
  }

  function send(event) {
    if (event) { event.preventDefault(); }
    var text = $("inbox-reply").value.trim();
    if (!text) { setStatus(t("empty_reply"), "error"); return; }
    act("/reply", { text: text }, "sent").then(function (answer) {
      if (!answer.ok) { return; }
      $("inbox-reply").value = "";
      addLine(view.conversation.id, answer.data.message);
      $("inbox-reply").focus();
    });
  }

  function handBack() { act("/hand-back", undefined, "handed_back").then(afterEnd); }

  function close(event) {
    event.preventDefault();
    act("/close", { outcome: $("inbox-outcome").value }, "closed").then(afterEnd);
  }

  function afterEnd(answer) {
    if (!answer.ok) { return; }
    view.conversation = null;
    view.selected = null;
    renderConversation();
    loadInbox().then(function () {
      var first = document.querySelector("#inbox-list button");
      if (first) { first.focus(); } else { $("inbox-title").focus(); }
    });
  }

  // ---- live updates ----------------------------------------------------------------------------------

  function connect() {
    if (view.stream || !me()) { return; }
    var stream = new EventSource(API + "/inbox/events");
    view.stream = stream;
    stream.addEventListener("handoff", function (event) { upsert(JSON.parse(event.data).handoff); });
    stream.addEventListener("message", function (event) {
      var data = JSON.parse(event.data);
      if (data.handoff_id) { addLine(data.handoff_id, data.message); }
    });
    stream.addEventListener("ready", function () { loadInbox(); });  // and after each reconnection
    stream.addEventListener("signed_out", disconnect);
    stream.onerror = function () { if (!me()) { disconnect(); } };
  }

  function disconnect() {
    if (view.stream) { view.stream.close(); view.stream = null; }
  }

  function translate() {
    document.querySelectorAll("[data-ib]").forEach(function (node) { node.textContent = t(node.dataset.ib); });
    var select = $("inbox-outcome");
    var chosen = select.value;
    select.textContent = "";
    Object.keys(TEXT.fr.outcomes).forEach(function (outcome) {
      select.appendChild(el("option", { value: outcome }, t("outcomes")[outcome]));
    });
    if (chosen) { select.value = chosen; }
    var account = me() ? me().name + "@" + me().fund : null;
    if (account !== view.account) {  // signed out, or another account signed in on this page
      disconnect();
      view.account = account;
      view.items = [];
      view.conversation = null;
      view.selected = null;
      if (account && view.tab === "inbox") { connect(); }
    }
    if (me()) { renderList(); renderConversation(); }
  }

  function onKey(event) {
    if (view.tab !== "inbox" || !(event.altKey || event.ctrlKey)) { return; }
    if (event.key === "Enter" && event.ctrlKey && document.activeElement === $("inbox-reply")) {
      send(event);
      return;
    }
    var n = ["1", "2", "3"].indexOf(event.key);
    if (n >= 0 && event.altKey) { event.preventDefault(); insertSuggestion(n); }
  }

  // The event stream opens when the agent first shows this view and stays open (the tab's count
  // of waiting conversations stays current while the agent assists a caller in another view).
  function onTab(event) {
    view.tab = event.detail.tab;
    if (view.tab === "inbox") { loadInbox(); connect(); }
  }

  function start() {
    $("inbox-claim").addEventListener("click", claim);
    $("inbox-reply-form").addEventListener("submit", send);
    $("inbox-hand-back").addEventListener("click", handBack);
    $("inbox-close-form").addEventListener("submit", close);
    document.addEventListener("keydown", onKey);
    document.addEventListener("sanad:tab", onTab);
    document.addEventListener("sanad:lang", translate);
    view.tick = setInterval(function () { if (view.items.length) { renderList(); } }, TICK_MS);
    translate();
  }

  document.addEventListener("DOMContentLoaded", start);
}());
