/* Sanad agent console, issue 17: the supervisors' review of what the assistant declined or could
   not settle (groups by meaning, exported as a topic's training examples or marked out of scope),
   and the dashboard (Chart.js, vendored under vendor/, loaded when the dashboard is first opened).
   Uses console.js's window.SanadConsole (API calls with the CSRF token, language, account); its
   texts carry data-rd keys, translated here in French and Arabic. */
(function () {
  "use strict";

  var CHART_JS = "/agent/static/vendor/chart.umd.min.js";
  var MAX_SHOWN = 50; // messages listed per group; the rest are counted
  var PERIODS = [7, 30, 90];

  var TEXT = {
    fr: {
      tab_review: "À revoir", tab_dashboard: "Tableau de bord",
      review_title: "Messages à revoir",
      review_hint: "Ce que l'assistant a décliné ou n'a pas su clarifier, regroupé par sens. Les données personnelles sont masquées.",
      caller_lang: "Langue du citoyen", all_langs: "toutes", refresh: "Actualiser",
      export_all: "Télécharger tous les exemples (YAML)", decisions_title: "Décisions", when: "Date (UTC)",
      supervisor: "Superviseur", outcome: "Décision", examples: "Exemples", file: "Fichier", download: "Télécharger",
      loading: "Chargement…", pending: "{n} message(s) à revoir en {g} groupe(s). Par langue : {langs}.",
      nothing_pending: "Aucun message à revoir.", truncated: "Seuls les plus récents sont regroupés.",
      group: "Groupe {n} : « {text} »", group_size: "{n} message(s)", by_lang: "Langues : {langs}",
      by_kind: "déclinés : {d}, non clarifiés : {u}", messages: "Messages du groupe (décochez ceux qui n'en sont pas)",
      more: "… et {n} autre(s), exporté(s) avec le groupe.", topic: "Sujet",
      choose_topic: "— choisir un sujet —", export_topic: "Exporter comme exemples du sujet",
      mark_oos: "Marquer hors sujet", need_topic: "Choisissez d'abord un sujet.",
      need_message: "Gardez au moins un message.",
      exported: "{n} exemple(s) enregistré(s) sous « {topic} ».", marked_oos: "{n} message(s) marqué(s) hors sujet.",
      group_changed: "Ce groupe a changé entre-temps (un autre superviseur l'a traité ?). La liste est actualisée.",
      review_unavailable: "Le regroupement ne répond pas pour le moment. Réessayez dans un instant.",
      error: "Une erreur est survenue. Réessayez.", out_of_scope: "hors sujet",
      kinds: { declined: "décliné", unsettled: "non clarifié" },
      dashboard_title: "Tableau de bord", period: "Période", days: "{n} derniers jours",
      no_data: "Aucune donnée sur la période.", since: "Du {since} au {until} (UTC).",
      conversations: "Conversations", fallback_rate: "Taux de repli", handoff_rate: "Taux de transfert",
      median_wait: "Attente médiane avant réponse d'un agent", not_available: "pas de données",
      per_day: "Conversations par jour", per_channel: "Par canal", per_lang: "Par langue", per_topic: "Par sujet",
      see_data: "Voir les données", value: "Conversations", chart_summary: "{title} : {values}",
      seconds: "{n} s", minutes: "{n} min",
      channels: { web: "Widget web", telegram: "Telegram" },
      intents: { account_balance: "Solde du compte", human_handoff: "Parler à une personne" },
      langs: { fr: "français", ar: "arabe", ary: "darija marocaine", arq: "darija algérienne", en: "anglais", und: "inconnue" }
    },
    ar: {
      tab_review: "للمراجعة", tab_dashboard: "لوحة المتابعة",
      review_title: "رسائل للمراجعة",
      review_hint: "ما رفضه المساعد أو لم يتمكن من توضيحه، مجمعا حسب المعنى. المعطيات الشخصية محجوبة.",
      caller_lang: "لغة المواطن", all_langs: "كل اللغات", refresh: "تحديث",
      export_all: "تنزيل كل الأمثلة (YAML)", decisions_title: "القرارات", when: "التاريخ (UTC)",
      supervisor: "المشرف", outcome: "القرار", examples: "الأمثلة", file: "الملف", download: "تنزيل",
      loading: "جار التحميل…", pending: "{n} رسالة للمراجعة في {g} مجموعة. حسب اللغة: {langs}.",
      nothing_pending: "لا توجد رسائل للمراجعة.", truncated: "جمعت الرسائل الأحدث فقط.",
      group: "المجموعة {n}: «{text}»", group_size: "{n} رسالة", by_lang: "اللغات: {langs}",
      by_kind: "مرفوضة: {d}، غير موضحة: {u}", messages: "رسائل المجموعة (ألغ تحديد ما لا ينتمي إليها)",
      more: "… و{n} أخرى تصدر مع المجموعة.", topic: "الموضوع",
      choose_topic: "— اختر موضوعا —", export_topic: "تصدير كأمثلة لهذا الموضوع",
      mark_oos: "خارج الموضوع", need_topic: "اختر موضوعا أولا.",
      need_message: "أبق رسالة واحدة على الأقل.",
      exported: "سجل {n} مثال تحت «{topic}».", marked_oos: "سجلت {n} رسالة خارج الموضوع.",
      group_changed: "تغيرت هذه المجموعة في الأثناء (عالجها مشرف آخر؟). تم تحديث القائمة.",
      review_unavailable: "التجميع لا يجيب حاليا. أعد المحاولة بعد لحظة.",
      error: "حدث خطأ. أعد المحاولة.", out_of_scope: "خارج الموضوع",
      kinds: { declined: "مرفوضة", unsettled: "غير موضحة" },
      dashboard_title: "لوحة المتابعة", period: "الفترة", days: "آخر {n} يوما",
      no_data: "لا توجد معطيات في هذه الفترة.", since: "من {since} إلى {until} (UTC).",
      conversations: "المحادثات", fallback_rate: "نسبة الرفض", handoff_rate: "نسبة التحويل إلى موظف",
      median_wait: "الانتظار الوسيط قبل رد الموظف", not_available: "لا توجد معطيات",
      per_day: "المحادثات حسب اليوم", per_channel: "حسب القناة", per_lang: "حسب اللغة", per_topic: "حسب الموضوع",
      see_data: "عرض المعطيات", value: "المحادثات", chart_summary: "{title}: {values}",
      seconds: "{n} ث", minutes: "{n} د",
      channels: { web: "نافذة الموقع", telegram: "تيليغرام" },
      intents: { account_balance: "رصيد الحساب", human_handoff: "التحدث إلى موظف" },
      langs: { fr: "الفرنسية", ar: "العربية", ary: "الدارجة المغربية", arq: "الدارجة الجزائرية", en: "الإنجليزية", und: "غير معروفة" }
    }
  };

  var view = { intents: null, groups: [], dashboard: null, charts: [], chartLoading: null, tab: null };

  function api() { return window.SanadConsole; }
  function ui() { return api().ui(); }
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
  function setStatus(id, text, kind) {
    var node = $(id);
    node.textContent = text || "";
    node.className = "status" + (kind ? " " + kind : "");
  }
  function isRtl(lang) { return api().isRtl(lang); }
  function langName(lang) { return t("langs")[lang] || lang; }
  function counts(byKey, name) {
    return Object.keys(byKey).map(function (key) { return name(key) + " " + byKey[key]; }).join(", ");
  }
  function intentTitle(intent, titles) {
    if (intent === "out_of_scope") { return t("out_of_scope"); }
    var own = titles && titles[intent];
    if (own && own[ui()]) { return own[ui()]; }
    var known = (view.intents || []).filter(function (i) { return i.intent === intent; })[0];
    return (known && known.title[ui()]) || t("intents")[intent] || intent;
  }

  function translate() {
    document.querySelectorAll("[data-rd]").forEach(function (node) { node.textContent = t(node.dataset.rd); });
    fillSelect($("review-lang"), [["", t("all_langs")]].concat(["fr", "ar", "ary", "arq", "en"].map(function (l) {
      return [l, langName(l)]; })));
    fillSelect($("dashboard-days"), PERIODS.map(function (n) { return [String(n), t("days", { n: n })]; }), "30");
    if (view.tab === "review") { renderGroups(); }
    if (view.tab === "dashboard" && view.dashboard) { renderDashboard(view.dashboard); }
  }

  function fillSelect(select, options, fallback) {
    var chosen = select.value || fallback || "";
    select.textContent = "";
    options.forEach(function (option) { select.appendChild(el("option", { value: option[0] }, option[1])); });
    select.value = chosen;
  }

  // ---- review ------------------------------------------------------------------------------------

  function loadReview() {
    setStatus("review-status", t("loading"));
    $("review-groups").setAttribute("aria-busy", "true");
    var intents = view.intents ? Promise.resolve(null) : api().call("GET", "/review/intents").then(function (answer) {
      if (answer.ok) { view.intents = answer.data.intents; }
    });
    var lang = $("review-lang").value;
    var groups = api().call("GET", "/review/groups" + (lang ? "?lang=" + encodeURIComponent(lang) : ""));
    return Promise.all([intents, groups]).then(function (results) {
      var answer = results[1];
      $("review-groups").removeAttribute("aria-busy");
      if (!answer.ok) {
        view.groups = []; renderGroups();
        if (answer.status !== 401) { setStatus("review-status", t(answer.code === "review_unavailable" ? "review_unavailable" : "error"), "error"); }
        return;
      }
      view.groups = answer.data.groups; view.summary = answer.data;
      renderGroups();
      loadDecisions();
    }).catch(function () { setStatus("review-status", t("error"), "error"); });
  }

  function summaryText() {
    var s = view.summary;
    if (!s || !s.groups.length) { return t("nothing_pending"); }
    return t("pending", { n: s.pending, g: s.groups.length, langs: counts(s.by_lang, langName) }) +
           (s.truncated ? " " + t("truncated") : "");
  }

  function renderGroups() {
    var list = $("review-groups");
    list.textContent = "";
    if (view.summary) { setStatus("review-status", summaryText()); }
    view.groups.forEach(function (group, index) { list.appendChild(groupItem(group, index + 1)); });
  }

  function groupItem(group, n) {
    var item = el("li", { "class": "result group", id: "group-" + n, "data-key": group.key });
    var title = el("h2", { id: "group-" + n + "-title" }, t("group", { n: n, text: group.representative }));
    item.appendChild(title);
    item.setAttribute("aria-labelledby", title.id);
    item.appendChild(el("p", { "class": "hint" }, t("group_size", { n: group.size }) + " · " +
      t("by_lang", { langs: counts(group.by_lang, langName) }) + " · " +
      t("by_kind", { d: group.by_kind.declined || 0, u: group.by_kind.unsettled || 0 })));
    var box = el("fieldset", {});
    box.appendChild(el("legend", {}, t("messages")));
    group.messages.slice(0, MAX_SHOWN).forEach(function (message) {
      var id = "msg-" + message.id;
      var label = el("label", { "class": "message", "for": id });
      var check = el("input", { type: "checkbox", id: id, value: String(message.id) });
      check.checked = true;
      label.appendChild(check);
      label.appendChild(el("span", { lang: message.lang, dir: "auto" }, message.text));
      label.appendChild(el("span", { "class": "meta" }, langName(message.lang) + " · " + t("kinds")[message.kind]));
      box.appendChild(label);
    });
    if (group.messages.length > MAX_SHOWN) {
      box.appendChild(el("p", { "class": "hint" }, t("more", { n: group.messages.length - MAX_SHOWN })));
    }
    item.appendChild(box);
    item.appendChild(groupActions(group, n));
    return item;
  }

  function groupActions(group, n) {
    var actions = el("div", { "class": "actions" });
    var field = el("div", {});
    field.appendChild(el("label", { "for": "group-" + n + "-topic" }, t("topic")));
    var select = el("select", { id: "group-" + n + "-topic" });
    select.appendChild(el("option", { value: "" }, t("choose_topic")));
    (view.intents || []).forEach(function (intent) {
      select.appendChild(el("option", { value: intent.intent }, intentTitle(intent.intent)));
    });
    field.appendChild(select);
    actions.appendChild(field);
    var exportButton = el("button", { type: "button", "class": "primary" }, t("export_topic"));
    exportButton.addEventListener("click", function () {
      if (!select.value) { setStatus("review-status", t("need_topic"), "error"); select.focus(); return; }
      decide(group, n, { outcome: "intent", intent: select.value });
    });
    var oosButton = el("button", { type: "button" }, t("mark_oos"));
    oosButton.addEventListener("click", function () { decide(group, n, { outcome: "out_of_scope" }); });
    actions.appendChild(exportButton);
    actions.appendChild(oosButton);
    return actions;
  }

  function keptIds(group, n) {
    var unchecked = {};
    $("group-" + n).querySelectorAll("input[type=checkbox]").forEach(function (box) {
      if (!box.checked) { unchecked[box.value] = true; }
    });
    return group.messages.map(function (m) { return m.id; }).filter(function (id) { return !unchecked[String(id)]; });
  }

  function decide(group, n, decision) {
    decision.turn_ids = keptIds(group, n);
    if (!decision.turn_ids.length) { setStatus("review-status", t("need_message"), "error"); return; }
    api().call("POST", "/review/decisions", decision).then(function (answer) {
      if (answer.status === 401) { return; }
      if (!answer.ok) {
        var changed = answer.code === "group_changed";
        return loadReview().then(function () {
          setStatus("review-status", t(changed ? "group_changed" : "error"), "error");
        });
      }
      var made = answer.data;
      return loadReview().then(function () {
        setStatus("review-status", made.outcome === "intent" ? t("exported", { n: made.examples, topic: intentTitle(made.intent) })
                                                             : t("marked_oos", { n: made.examples }));
      });
    }).catch(function () { setStatus("review-status", t("error"), "error"); });
  }

  function loadDecisions() {
    api().call("GET", "/review/decisions").then(function (answer) {
      var body = document.querySelector("#review-decisions tbody");
      body.textContent = "";
      if (!answer.ok) { return; }
      answer.data.decisions.forEach(function (d) {
        var tr = el("tr", {});
        [d.at.replace("T", " ").replace("Z", ""), d.supervisor, intentTitle(d.intent), String(d.examples)].forEach(function (v) {
          tr.appendChild(el("td", {}, v));
        });
        var cell = el("td", {});
        cell.appendChild(el("a", { href: d.export, download: "" }, t("download")));
        tr.appendChild(cell);
        body.appendChild(tr);
      });
    });
  }

  // ---- dashboard ---------------------------------------------------------------------------------

  function loadChartJs() {
    if (window.Chart) { return Promise.resolve(window.Chart); }
    if (!view.chartLoading) {
      view.chartLoading = new Promise(function (resolve, reject) {
        var script = el("script", { src: CHART_JS });
        script.onload = function () { resolve(window.Chart); };
        script.onerror = function () { view.chartLoading = null; reject(new Error("chart.js")); };
        document.head.appendChild(script);
      });
    }
    return view.chartLoading;
  }

  function loadDashboard() {
    setStatus("dashboard-status", t("loading"));
    var days = $("dashboard-days").value || "30";
    return Promise.all([api().call("GET", "/dashboard?days=" + encodeURIComponent(days)), loadChartJs().catch(function () { return null; })])
      .then(function (results) {
        var answer = results[0];
        if (!answer.ok) { if (answer.status !== 401) { setStatus("dashboard-status", t("error"), "error"); } return; }
        view.dashboard = answer.data;
        renderDashboard(answer.data);
      }).catch(function () { setStatus("dashboard-status", t("error"), "error"); });
  }

  function percent(rate) { return rate === null || rate === undefined ? t("not_available") : (Math.round(rate * 1000) / 10) + " %"; }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return t("not_available"); }
    return seconds < 120 ? t("seconds", { n: Math.round(seconds) }) : t("minutes", { n: Math.round(seconds / 60) });
  }

  function renderFigures(d) {
    var figures = $("dashboard-figures");
    figures.textContent = "";
    [["conversations", String(d.conversations)], ["fallback_rate", percent(d.fallback_rate)],
     ["handoff_rate", percent(d.handoff_rate)], ["median_wait", duration(d.median_wait_seconds)]].forEach(function (f) {
      var box = el("div", { id: "figure-" + f[0] });
      box.appendChild(el("dt", {}, t(f[0])));
      box.appendChild(el("dd", {}, f[1]));
      figures.appendChild(box);
    });
  }

  function renderDashboard(d) {
    view.charts.forEach(function (chart) { chart.destroy(); });
    view.charts = [];
    renderFigures(d);
    var charts = $("dashboard-charts");
    charts.textContent = "";
    if (!d.conversations) { setStatus("dashboard-status", t("no_data"), "empty"); return; }
    setStatus("dashboard-status", t("since", { since: d.since, until: d.until }));
    var perDay = {};
    d.per_day.forEach(function (row) { perDay[row.day] = row.conversations; });
    chartBlock(charts, "per_day", perDay, function (day) { return day.slice(5); }, "x");
    chartBlock(charts, "per_channel", d.per_channel, function (c) { return t("channels")[c] || c; }, "y");
    chartBlock(charts, "per_lang", d.per_lang, langName, "y");
    chartBlock(charts, "per_topic", d.per_topic, function (topic) { return intentTitle(topic, d.topic_titles); }, "y");
  }

  function chartBlock(parent, key, values, label, axis) {
    var keys = Object.keys(values);
    var labels = keys.map(label);
    var data = keys.map(function (k) { return values[k]; });
    var box = el("section", { "class": "chart", id: "chart-" + key, "aria-labelledby": "chart-" + key + "-title" });
    box.appendChild(el("h2", { id: "chart-" + key + "-title" }, t(key)));
    var summary = labels.map(function (name, i) { return name + " " + data[i]; }).join(", ");
    var holder = el("div", { "class": "canvas-box" });
    var canvas = el("canvas", { role: "img", "aria-label": t("chart_summary", { title: t(key), values: summary }) });
    holder.appendChild(canvas);
    box.appendChild(holder);
    box.appendChild(dataTable(key, labels, data));
    parent.appendChild(box);
    if (window.Chart) { view.charts.push(drawChart(canvas, labels, data, axis)); }
  }

  function dataTable(key, labels, data) {
    var details = el("details", {});
    details.appendChild(el("summary", {}, t("see_data")));
    var table = el("table", {});
    table.appendChild(el("caption", { "class": "visually-hidden" }, t(key)));
    var head = el("tr", {});
    head.appendChild(el("th", { scope: "col" }, t(key)));
    head.appendChild(el("th", { scope: "col" }, t("value")));
    table.appendChild(el("thead", {})).appendChild(head);
    var body = el("tbody", {});
    labels.forEach(function (name, i) {
      var tr = el("tr", {});
      tr.appendChild(el("th", { scope: "row" }, name));
      tr.appendChild(el("td", {}, String(data[i])));
      body.appendChild(tr);
    });
    table.appendChild(body);
    details.appendChild(table);
    return details;
  }

  function drawChart(canvas, labels, data, axis) {
    var rtl = isRtl(ui());
    var Chart = window.Chart;
    return new Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: [{ label: t("value"), data: data, backgroundColor: "#0b5cad" }] },
      options: {
        indexAxis: axis, animation: false, maintainAspectRatio: false, responsive: true, locale: ui(),
        plugins: { legend: { display: false }, tooltip: { rtl: rtl, textDirection: rtl ? "rtl" : "ltr" } },
        scales: axis === "x" ? { x: { reverse: rtl }, y: { beginAtZero: true, ticks: { precision: 0 } } }
                             : { x: { beginAtZero: true, reverse: rtl, ticks: { precision: 0 } },
                                 y: { position: rtl ? "right" : "left" } }
      }
    });
  }

  // ---- start -------------------------------------------------------------------------------------

  function onTab(event) {
    view.tab = event.detail.tab;
    if (view.tab === "review") { loadReview(); }
    if (view.tab === "dashboard") { loadDashboard(); }
  }

  function start() {
    $("review-refresh").addEventListener("click", loadReview);
    $("review-lang").addEventListener("change", loadReview);
    $("dashboard-days").addEventListener("change", loadDashboard);
    document.addEventListener("sanad:tab", onTab);
    document.addEventListener("sanad:lang", translate);
    translate();
  }

  document.addEventListener("DOMContentLoaded", start);
}());
