/*
 * Sanad chat widget. One tag on any page, no framework, no CDN:
 *
 *   <script src="https://GATEWAY/widget.js" data-fund="FUND" defer></script>
 *
 * data-fund: a fund id of the gateway's registry.yml (without it, the deployment's fund); the
 * fund's name and the interface language of each reply language come from the gateway
 * (/api/widget-config). Optional attributes: data-lang="fr|ar|en" (first interface language;
 * else the page's), data-gateway="https://GATEWAY" (when the script is served from elsewhere).
 *
 * Reliability: every message has a client id and stays in localStorage ("outbox") until the
 * gateway answers it; unanswered messages are sent again after a reconnection and the gateway
 * deduplicates them, so each reaches the assistant exactly once. The session token and the
 * conversation (long digit sequences masked) are kept in localStorage: a reload shows the history.
 * An answer about the citizen's account (the balance) is shown but never stored: a note in the
 * answer's language takes its place in the history (this browser may be shared).
 */
(function () {
  "use strict";
  if (window.__sanadWidget) { return; }
  window.__sanadWidget = true;

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (!script) { return; }
  var base = new URL(script.getAttribute("data-gateway") || script.src, window.location.href);
  var ORIGIN = base.origin;
  var ASSETS = new URL(".", script.src).href;
  var FUND = script.getAttribute("data-fund") || "";  // "": the gateway's default fund
  var WS_URL = ORIGIN.replace(/^http/, "ws") + "/ws";
  var KEY = "sanad:" + ORIGIN + ":" + FUND + ":";
  var MAX_HISTORY = 120;

  var LANG_LABELS = { fr: "FR", ar: "عربي", en: "EN" };
  var LANG_NAMES = { fr: "Français", ar: "العربية", en: "English" };
  var STR = {
    fr: {
      launcher: "Une question ?", open: "Ouvrir l'assistant Sanad", close: "Fermer l'assistant",
      title: "Sanad", subtitle: "Assistant de la {fund} · réponses sourcées",
      langGroup: "Langue des réponses", log: "Conversation avec Sanad",
      input: "Votre question", placeholder: "Écrivez votre question…", send: "Envoyer",
      welcome: "Bonjour ! Je suis Sanad, l'assistant de la {fund}. Posez votre question : inscription, cotisations, paiement, couverture santé, dettes, retraite…",
      privacy: "Ne donnez jamais de mot de passe. Les numéros longs sont masqués dans l'historique de ce navigateur, et votre solde n'y est pas gardé.",
      you: "Vous :", bot: "Sanad :", typing: "Sanad écrit…",
      choices: "Choisissez une réponse", sources: "Sources", reviewed: "Fiche vérifiée le {date}",
      newTab: "(nouvel onglet)", pending: "En attente d'envoi", sent: "Reçu", failed: "Non envoyé",
      offline: "Connexion perdue. Vos messages partiront dès son retour.",
      langSet: "Langue : {lang}", counter: "{n} / {max} caractères", notice: "Information :",
      withheld: "Réponse sur votre compte : elle n'est pas gardée dans ce navigateur. Redemandez votre solde pour la revoir.",
      agent: "Conseiller :"
    },
    ar: {
      launcher: "عندك سؤال؟", open: "فتح المساعد سند", close: "إغلاق المساعد",
      title: "سند", subtitle: "مساعد {fund} · أجوبة موثقة المصادر",
      langGroup: "لغة الأجوبة", log: "المحادثة مع سند",
      input: "سؤالك", placeholder: "اكتب سؤالك…", send: "إرسال",
      welcome: "مرحبا! أنا سند، مساعد {fund}. اطرح سؤالك: التسجيل، الاشتراكات، الأداء، التغطية الصحية، الديون، التقاعد…",
      privacy: "لا تشارك أبدا كلمة سر. الأرقام الطويلة تُخفى في سجل هذا المتصفح، ورصيدك لا يُحفظ فيه.",
      you: "أنت:", bot: "سند:", typing: "سند يكتب…",
      choices: "اختر جوابا", sources: "المصادر", reviewed: "تمت مراجعة المعلومة في {date}",
      newTab: "(علامة تبويب جديدة)", pending: "في انتظار الإرسال", sent: "تم الاستلام", failed: "لم يُرسل",
      offline: "انقطع الاتصال. سترسل رسائلك فور عودته.",
      langSet: "اللغة: {lang}", counter: "{n} / {max} حرفا", notice: "معلومة:",
      withheld: "جواب حول حسابك: لا يُحفظ في هذا المتصفح. اطلب رصيدك من جديد لرؤيته.",
      agent: "المستشار:"
    },
    en: {
      launcher: "Any question?", open: "Open the Sanad assistant", close: "Close the assistant",
      title: "Sanad", subtitle: "{fund} assistant · sourced answers",
      langGroup: "Answer language", log: "Conversation with Sanad",
      input: "Your question", placeholder: "Type your question…", send: "Send",
      welcome: "Hello! I am Sanad, the {fund} assistant. Ask about registration, contributions, payment, health cover, debts, retirement…",
      privacy: "Never share a password. Long numbers are masked in this browser's history, and your balance is not kept there.",
      you: "You:", bot: "Sanad:", typing: "Sanad is typing…",
      choices: "Choose an answer", sources: "Sources", reviewed: "Checked on {date}",
      newTab: "(new tab)", pending: "Waiting to be sent", sent: "Received", failed: "Not sent",
      offline: "Connection lost. Your messages will go as soon as it is back.",
      langSet: "Language: {lang}", counter: "{n} / {max} characters", notice: "Notice:",
      withheld: "Answer about your account: it is not kept in this browser. Ask for your balance again to see it.",
      agent: "Advisor:"
    }
  };

  // ---- storage (localStorage may be unavailable: the widget then works for this page only) ----
  var memory = {};
  function load(name, fallback) {
    var raw = null;
    try { raw = window.localStorage.getItem(KEY + name); } catch (e) { raw = memory[name] || null; }
    if (raw === null || raw === undefined) { return fallback; }
    try { return JSON.parse(raw); } catch (e) { return fallback; }
  }
  function save(name, value) {
    var raw = JSON.stringify(value);
    try { window.localStorage.setItem(KEY + name, raw); } catch (e) { memory[name] = raw; }
  }
  function drop(name) {
    try { window.localStorage.removeItem(KEY + name); } catch (e) { delete memory[name]; }
  }

  // ---- state ----
  var token = load("token", null);
  var history = load("history", []);
  var outbox = load("outbox", []);
  // A message that would be stored unanswered with personal data in it stayed pending in a
  // previous page: it was never written to the browser, so it cannot be sent again.
  history.forEach(function (e) {
    if (e.role === "user" && e.state === "pending" && !outbox.some(function (i) { return i.client_id === e.id; })) {
      e.state = "failed";
    }
  });
  var chosenLang = load("lang", null);           // the citizen's explicit choice, sent as metadata.lang
  var convLang = load("convLang", null);         // language of the last answer
  var maxChars = load("maxChars", 1000);
  // From the gateway (registry.yml): {fund, name, ui_langs}; kept, so a later page shows it at once.
  var config = load("config", null);
  var ws = null, welcomed = false, attempt = 0, reconnectTimer = null, lastHeard = 0, heartbeat = null;
  var retryTimers = {};
  // A live handoff is waiting or under way: stay connected (a person's reply may come at any time).
  var liveHandoff = load("live", false);

  function pageLang() {
    var l = script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "fr";
    return uiLang(l);
  }
  function uiLang(code) {  // the interface language of a reply language ("ary" -> "ar"), as the gateway says
    var b = String(code || "").toLowerCase().split(/[-_]/)[0];
    var langs = (config && config.ui_langs) || {};
    return langs[b] || (STR[b] ? b : "fr");
  }
  function fundName() { return (config && config.name) || FUND; }
  function currentLang() { return chosenLang || (convLang ? uiLang(convLang) : pageLang()); }
  function t(key, values) { return tr(currentLang(), key, values); }
  function tr(lang, key, values) {  // a sentence of the widget in `lang`
    var s = (STR[lang] || STR.fr)[key] || STR.fr[key] || key;
    values = values || {};
    values.fund = values.fund || fundName();
    return s.replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? values[k] : m; });
  }
  function newId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var a = new Uint8Array(16);
    window.crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  function maskDigits(text) {
    // affiliate numbers, one-time codes, phone numbers, birth dates: never kept in the history
    var dots = function (m) { return m.replace(/[0-9٠-٩۰-۹]/g, "•"); };
    return String(text)
      .replace(/[0-9٠-٩۰-۹](?:[\s.\-\/]?[0-9٠-٩۰-۹]){5,}/g, dots)
      // a date with the month in words ("12 mars 1980", "١٢ شتنبر ١٩٨٠"): its day and year
      .replace(/(^|[^0-9٠-٩۰-۹])([0-9٠-٩۰-۹]{1,2}\s*(?:er)?\s*[^\s0-9٠-٩۰-۹]{3,12}\.?\s*[0-9٠-٩۰-۹]{4})(?![0-9٠-٩۰-۹])/g,
               function (m, before, date) { return before + dots(date); });
  }

  // ---- DOM ----
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function speechBubble() {  // an inline icon: no emoji font or image request needed
    var NS = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "22");
    svg.setAttribute("height", "22");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "sanad-launcher-icon");
    var path = document.createElementNS(NS, "path");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("fill-rule", "evenodd");
    svg.appendChild(path);
    return svg;
  }

  var host = el("div");
  host.setAttribute("data-sanad-widget", FUND);
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var css = el("link");
  css.rel = "stylesheet";
  css.href = new URL("widget.css", ASSETS).href;
  var wrap = el("div", "sanad-root");
  wrap.hidden = true;
  var awaited = 2;  // the style sheet, and the fund's configuration unless a previous page kept it
  function ready() { awaited -= 1; if (awaited === 0) { reveal(); } }
  css.addEventListener("load", ready);
  setTimeout(reveal, 3000);

  var launcher = el("button", "sanad-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "sanad-panel");
  var launcherIcon = speechBubble();
  var launcherText = el("span", "sanad-launcher-text");
  launcher.appendChild(launcherIcon);
  launcher.appendChild(launcherText);

  var panel = el("section", "sanad-panel");
  panel.id = "sanad-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-labelledby", "sanad-title");

  var header = el("header", "sanad-header");
  var heading = el("div", "sanad-heading");
  var title = el("h2", "sanad-title");
  title.id = "sanad-title";
  var subtitle = el("p", "sanad-subtitle");
  heading.appendChild(title);
  heading.appendChild(subtitle);
  var langs = el("div", "sanad-langs");
  langs.setAttribute("role", "group");
  var langButtons = {};
  ["fr", "ar", "en"].forEach(function (code) {
    var b = el("button", "sanad-lang", LANG_LABELS[code]);
    b.type = "button";
    b.lang = code;
    b.setAttribute("data-lang", code);
    b.setAttribute("aria-label", LANG_NAMES[code]);
    b.addEventListener("click", function () { chooseLang(code); });
    langButtons[code] = b;
    langs.appendChild(b);
  });
  var closeBtn = el("button", "sanad-close");
  closeBtn.type = "button";
  var closeIcon = el("span", null, "×");
  closeIcon.setAttribute("aria-hidden", "true");
  closeBtn.appendChild(closeIcon);
  header.appendChild(heading);
  header.appendChild(langs);
  header.appendChild(closeBtn);

  var status = el("p", "sanad-status");
  status.setAttribute("role", "status");
  var scroller = el("div", "sanad-scroll");
  scroller.tabIndex = 0;
  scroller.setAttribute("role", "region");
  var intro = el("div", "sanad-intro");
  var welcome = el("p", "sanad-welcome");
  welcome.dir = "auto";
  var privacy = el("p", "sanad-privacy");
  privacy.dir = "auto";
  intro.appendChild(welcome);
  intro.appendChild(privacy);
  var log = el("ol", "sanad-log");
  scroller.appendChild(intro);
  scroller.appendChild(log);
  var typing = el("div", "sanad-typing");
  typing.hidden = true;
  var typingText = el("span", "sanad-sr");
  typing.appendChild(typingText);
  for (var d = 0; d < 3; d++) { typing.appendChild(el("span", "sanad-dot")).setAttribute("aria-hidden", "true"); }
  var live = el("div", "sanad-sr");
  live.setAttribute("aria-live", "polite");
  live.setAttribute("aria-atomic", "true");

  var form = el("form", "sanad-form");
  var label = el("label", "sanad-sr");
  label.htmlFor = "sanad-input";
  var input = el("textarea", "sanad-input");
  input.id = "sanad-input";
  input.rows = 2;
  input.dir = "auto";
  input.setAttribute("aria-describedby", "sanad-counter");
  var counter = el("p", "sanad-counter");
  counter.id = "sanad-counter";
  var sendBtn = el("button", "sanad-send");
  sendBtn.type = "submit";
  var sendIcon = el("span", "sanad-send-icon", "➤");
  sendIcon.setAttribute("aria-hidden", "true");
  var sendText = el("span", "sanad-send-text");
  sendBtn.appendChild(sendIcon);
  sendBtn.appendChild(sendText);
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(sendBtn);
  form.appendChild(counter);

  panel.appendChild(header);
  panel.appendChild(status);
  panel.appendChild(scroller);
  panel.appendChild(typing);
  panel.appendChild(form);
  panel.appendChild(live);
  wrap.appendChild(panel);
  wrap.appendChild(launcher);
  root.appendChild(css);
  root.appendChild(wrap);

  // ---- texts and direction ----
  function applyLang() {
    var lang = currentLang();
    var rtl = lang === "ar";
    panel.dir = rtl ? "rtl" : "ltr";
    panel.lang = lang;
    wrap.dir = rtl ? "rtl" : "ltr";
    wrap.setAttribute("data-lang", lang);
    launcher.lang = lang;
    launcherText.textContent = t("launcher");
    launcher.setAttribute("aria-label", t("open"));
    title.textContent = t("title") + " · " + fundName();
    subtitle.textContent = t("subtitle");
    langs.setAttribute("aria-label", t("langGroup"));
    closeBtn.setAttribute("aria-label", t("close"));
    scroller.setAttribute("aria-label", t("log"));
    log.setAttribute("aria-label", t("log"));
    welcome.textContent = t("welcome");
    privacy.textContent = t("privacy");
    label.textContent = t("input");
    input.placeholder = t("placeholder");
    input.maxLength = maxChars;
    sendText.textContent = t("send");
    sendBtn.setAttribute("aria-label", t("send"));
    typingText.textContent = t("typing");
    Object.keys(langButtons).forEach(function (code) {
      langButtons[code].setAttribute("aria-pressed", String(code === (chosenLang || "")));
    });
    relabel();
    updateCounter();
    updateStatus();
  }
  function updateCounter() {
    var n = input.value.length;
    counter.textContent = n > maxChars * 0.8 ? t("counter", { n: n, max: maxChars }) : "";
  }

  // ---- rendering ----
  function linkify(parent, text) {
    var re = /\b(https?:\/\/[^\s<>"'«»]+|www\.[^\s<>"'«»]+)/g;
    var last = 0, m;
    while ((m = re.exec(text)) !== null) {
      var url = m[0].replace(/[.,;:!?)\]]+$/, "");
      parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var href = safeUrl(/^www\./.test(url) ? "https://" + url : url);
      if (href) {
        var a = el("a", null, url);
        a.href = href;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        a.dir = "ltr";
        parent.appendChild(a);
      } else {
        parent.appendChild(document.createTextNode(url));
      }
      last = m.index + url.length;
      re.lastIndex = last;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }
  function safeUrl(url) {
    try {
      var u = new URL(url);
      return (u.protocol === "https:" || u.protocol === "http:") ? u.href : null;
    } catch (e) { return null; }
  }
  function srPrefix(text) {
    var s = el("span", "sanad-sr", text + " ");
    return s;
  }
  // The labels of the citizen's messages and of notices ("Reçu", "Vous :") are in the interface
  // language: marked here and redrawn by applyLang whenever it changes. An answer's own labels
  // ("Sources", the review date) are in the answer's language instead, and never change.
  function uiLabel(node, key, suffix) {
    node.setAttribute("data-label", key);
    node.setAttribute("data-label-suffix", suffix || "");
    node.textContent = t(key) + (suffix || "");
    return node;
  }
  function relabel() {
    Array.prototype.forEach.call(log.querySelectorAll("[data-label]"), function (node) {
      node.textContent = t(node.getAttribute("data-label")) + node.getAttribute("data-label-suffix");
    });
  }
  function htmlLang(code) { return ["fr", "ar", "ary", "arq", "en"].indexOf(code) >= 0 ? code : ""; }

  function renderEntry(entry) {
    var li;
    if (entry.role === "user") {
      li = el("li", "sanad-msg sanad-user");
      li.setAttribute("data-client-id", entry.id);
      var p = el("p", "sanad-text");
      p.dir = "auto";
      p.appendChild(uiLabel(el("span", "sanad-sr"), "you", " "));
      p.appendChild(document.createTextNode(entry.text));
      li.appendChild(p);
      var st = el("span", "sanad-state");
      li.appendChild(st);
      setUserState(li, entry.state);
    } else if (entry.role === "bot") {
      li = renderBot(entry);
    } else if (entry.role === "agent") {
      li = renderAgent(entry);
    } else {
      li = el("li", "sanad-msg sanad-notice");
      li.setAttribute("data-code", entry.code || "");
      var n = el("p", "sanad-text");
      n.dir = "auto";
      n.appendChild(uiLabel(el("span", "sanad-sr"), "notice", " "));
      n.appendChild(document.createTextNode(entry.text));
      li.appendChild(n);
    }
    log.appendChild(li);
    return li;
  }
  function setUserState(li, state) {
    if (!li) { return; }
    li.setAttribute("data-state", state || "sent");
    var st = li.querySelector(".sanad-state");
    if (st) { uiLabel(st, state === "pending" ? "pending" : state === "failed" ? "failed" : "sent"); }
  }
  function renderAgent(entry) {
    // A person's message (live handoff): on the assistant's side, labelled as a person's.
    var lang = uiLang(entry.lang || currentLang());
    var li = el("li", "sanad-msg sanad-agent");
    li.setAttribute("data-agent-id", entry.id);
    li.lang = htmlLang(entry.lang) || lang;
    li.dir = lang === "ar" ? "rtl" : "ltr";
    li.appendChild(el("p", "sanad-agent-label", tr(lang, "agent")));
    var p = el("p", "sanad-text");
    p.dir = "auto";
    linkify(p, entry.text || "");
    li.appendChild(p);
    return li;
  }
  function renderBot(entry) {
    var turn = entry.turn || { messages: [], sanad: {} };
    var sanad = turn.sanad || {};
    var sources = sanad.sources || [];
    // Each answer is laid out in its own language and direction, with its labels in that
    // language: a French answer in an Arabic conversation reads left to right, and after a
    // reload an Arabic answer still says "المصادر" whatever the interface language is by then.
    var lang = uiLang(sanad.lang || entry.lang || currentLang());
    var say = function (key, values) { return tr(lang, key, values); };
    var li = el("li", "sanad-msg sanad-bot");
    li.setAttribute("data-reply-to", entry.reply_to || "");
    li.setAttribute("data-decision", sanad.decision || "");
    li.lang = htmlLang(sanad.lang) || lang;
    li.dir = lang === "ar" ? "rtl" : "ltr";
    if (entry.withheld) { li.setAttribute("data-withheld", "true"); }
    var messages = entry.withheld ? [{ text: say("withheld") }] : (turn.messages || []);
    var first = true;
    messages.forEach(function (m) {
      if (m.kind === "source" && sources.length) { return; }  // shown below, with links
      var p = el("p", "sanad-text");
      p.dir = "auto";
      if (first) { p.appendChild(srPrefix(say("bot"))); first = false; }
      linkify(p, m.text || "");
      li.appendChild(p);
      if (m.buttons && m.buttons.length) {
        var group = el("div", "sanad-choices");
        group.setAttribute("role", "group");
        group.setAttribute("aria-label", say("choices"));
        m.buttons.forEach(function (b) {
          var btn = el("button", "sanad-choice", b.title);
          btn.type = "button";
          btn.dir = "auto";
          btn.disabled = !!entry.chosen;
          btn.addEventListener("click", function () {
            entry.chosen = true;
            persistHistory();
            Array.prototype.forEach.call(group.querySelectorAll("button"), function (x) { x.disabled = true; });
            btn.classList.add("sanad-chosen");
            send(b.payload, { button: true, display: b.title });
            input.focus();
          });
          group.appendChild(btn);
        });
        li.appendChild(group);
      }
    });
    if (sources.length) {
      var box = el("div", "sanad-sources");
      box.appendChild(el("p", "sanad-sources-title", say("sources")));
      var ul = el("ul");
      sources.forEach(function (s) {
        // The item keeps the answer's direction, so its bullet sits on the side the list is padded
        // (a French title made the item left to right: in an Arabic answer its bullet hung outside
        // the bubble). The line itself takes the direction of its title.
        var item = el("li");
        var line = el("span", "sanad-source");
        line.dir = "auto";
        item.appendChild(line);
        var href = s.url ? safeUrl(s.url) : null;
        if (href) {
          var a = el("a", "sanad-source-link", s.title);
          a.href = href;
          a.target = "_blank";
          a.rel = "noopener noreferrer";
          a.appendChild(el("span", "sanad-sr", " " + say("newTab")));
          line.appendChild(a);
        } else {
          line.appendChild(el("span", "sanad-source-title", s.title));
        }
        if (s.publisher) { line.appendChild(document.createTextNode(" — " + s.publisher)); }
        if (s.date) {
          line.appendChild(document.createTextNode(s.publisher ? ", " : " — "));
          var when = el("bdi", null, s.date);
          when.dir = "ltr";
          line.appendChild(when);
        }
        ul.appendChild(item);
      });
      box.appendChild(ul);
      if (sanad.reviewed) {
        // an ISO date in right-to-left text would read backwards: isolate it, left to right
        var reviewed = el("p", "sanad-reviewed");
        var parts = say("reviewed", { date: "\u0000" }).split("\u0000");
        reviewed.appendChild(document.createTextNode(parts[0]));
        var date = el("bdi", null, sanad.reviewed);
        date.dir = "ltr";
        reviewed.appendChild(date);
        reviewed.appendChild(document.createTextNode(parts[1] || ""));
        box.appendChild(reviewed);
      }
      li.appendChild(box);
    }
    return li;
  }
  function announce(text) {
    live.textContent = "";
    setTimeout(function () { live.textContent = text; }, 50);
  }
  function scrollDown() { scroller.scrollTop = scroller.scrollHeight; }
  function showLatest() {
    // The latest exchange from the citizen's last question down, as an answer is shown when it
    // comes (a short one: the end of the conversation).
    var asked = log.querySelectorAll("li.sanad-user");
    var last = asked[asked.length - 1];
    if (last && last !== log.lastElementChild) { scroller.scrollTop = Math.max(0, last.offsetTop - 8); }
    else { scrollDown(); }
  }
  function reveal() {
    // The style sheet is in (or late): show the widget. A panel opened before that (a reload
    // with the panel open) had no layout to scroll, and showed the top of the conversation.
    if (!wrap.hidden) { return; }
    wrap.hidden = false;
    if (!panel.hidden) { showLatest(); }
  }
  function renderAll() {
    log.textContent = "";
    history.forEach(renderEntry);
    showLatest();
  }
  function persistHistory() {
    if (history.length > MAX_HISTORY) { history = history.slice(history.length - MAX_HISTORY); }
    save("history", history.map(storable));
  }
  function storable(entry) {
    // What the browser keeps: a citizen's message with its long digit sequences masked, and
    // instead of an answer about their account (amounts, dates, the number's last digits) a note
    // that it was not kept. This page shows the answer until it is left.
    if (entry.role === "user") { return { role: "user", id: entry.id, text: maskDigits(entry.text), state: entry.state }; }
    if (entry.role === "agent") { return { role: "agent", id: entry.id, lang: entry.lang, text: maskDigits(entry.text) }; }
    if (entry.role !== "bot" || !aboutTheAccount(entry)) { return entry; }
    var sanad = entry.turn.sanad;
    return { role: "bot", reply_to: entry.reply_to, lang: entry.lang, withheld: true,
             turn: { messages: [], sanad: { decision: sanad.decision, lang: sanad.lang, step: sanad.step } } };
  }
  function aboutTheAccount(entry) {
    var sanad = (entry.turn && entry.turn.sanad) || {};
    return sanad.decision === "account_balance" && sanad.step === "result";
  }
  function addEntry(entry) {
    history.push(entry);
    persistHistory();
    var li = renderEntry(entry);
    scrollDown();
    return li;
  }
  function userLi(id) { return log.querySelector('li.sanad-user[data-client-id="' + cssEscape(id) + '"]'); }
  function cssEscape(s) { return String(s).replace(/[^A-Za-z0-9_-]/g, ""); }
  function setState(id, state) {
    history.forEach(function (e) { if (e.role === "user" && e.id === id) { e.state = state; } });
    persistHistory();
    setUserState(userLi(id), state);
  }
  function updateTyping(on) {
    typing.hidden = !on;
    if (on) { scrollDown(); }
  }

  // ---- sending ----
  var PERSONAL_STEPS = ["affiliate_number", "birth_date", "otp_code"];
  function asksForPersonalData() {
    for (var i = history.length - 1; i >= 0; i--) {
      if (history[i].role === "bot") {
        var sanad = (history[i].turn && history[i].turn.sanad) || {};
        return PERSONAL_STEPS.indexOf(sanad.step) >= 0;
      }
    }
    return false;
  }
  function saveOutbox() {
    // An unanswered message typed while the balance look-up asks for a number, a date or a
    // code, or holding a long run of digits, waits in this page's memory only: the browser
    // never stores it in clear (a reload shows it as not sent; the citizen types it again).
    save("outbox", outbox.filter(function (i) { return !i.personal; }));
  }
  function send(text, opts) {
    opts = opts || {};
    var item = { client_id: newId(), text: text, button: !!opts.button, lang: chosenLang || null,
                 personal: !opts.button && (asksForPersonalData() || maskDigits(text) !== text) };
    outbox.push(item);
    saveOutbox();
    addEntry({ role: "user", id: item.client_id, text: opts.display || text, state: "pending" });
    transmit(item);
    connect();
  }
  function transmit(item) {
    if (!ws || !welcomed || ws.readyState !== 1) { return false; }
    ws.send(JSON.stringify({ type: "message", client_id: item.client_id, text: item.text,
                             lang: item.lang, button: item.button }));
    return true;
  }
  function flushOutbox() { outbox.forEach(transmit); }
  function settle(id) {
    outbox = outbox.filter(function (i) { return i.client_id !== id; });
    saveOutbox();
    if (retryTimers[id]) { clearTimeout(retryTimers[id]); delete retryTimers[id]; }
  }
  function waiting() { return outbox.length > 0; }

  // ---- connection ----
  var tokenRequest = null;  // one session request at a time
  function ensureToken() {
    if (token) { return Promise.resolve(token); }
    if (tokenRequest) { return tokenRequest; }
    tokenRequest = fetch(ORIGIN + "/api/session", {
      method: "POST", headers: { "Content-Type": "application/json" }, credentials: "omit",
      body: JSON.stringify({ fund: FUND, lang: currentLang() })
    }).then(function (r) {
      if (r.status === 429) {  // too many new sessions from this address: say so, politely
        return r.json().then(function (data) { notice("too_fast", data.text, true); throw new Error("429"); });
      }
      if (!r.ok) { throw new Error("session " + r.status); }
      return r.json();
    }).then(function (data) {
      tokenRequest = null;
      token = data.token;
      save("token", token);
      return token;
    }, function (error) {
      tokenRequest = null;
      throw error;
    });
    return tokenRequest;
  }
  function connect() {
    if (ws && (ws.readyState === 0 || ws.readyState === 1)) { return; }
    if (reconnectTimer) { clearTimeout(reconnectTimer); reconnectTimer = null; }
    ensureToken().then(open, function () { scheduleReconnect(); updateStatus(); });
  }
  function open() {
    if (ws && (ws.readyState === 0 || ws.readyState === 1)) { return; }
    var socket;
    try { socket = new WebSocket(WS_URL); } catch (e) { scheduleReconnect(); return; }
    ws = socket;
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: "hello", token: token, lang: currentLang() }));
    };
    socket.onmessage = function (ev) {
      lastHeard = Date.now();
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      onEvent(data);
    };
    socket.onclose = function (ev) {
      if (ws !== socket) { return; }
      ws = null;
      welcomed = false;
      updateTyping(false);
      if (ev.code === 4401) { token = null; drop("token"); attempt = 0; }
      scheduleReconnect();
      updateStatus();
    };
    socket.onerror = function () { /* onclose follows */ };
  }
  function scheduleReconnect() {
    if (reconnectTimer) { return; }
    if (!waiting() && panel.hidden && !liveHandoff) { updateStatus(); return; }  // idle and closed: reconnect on demand
    var delay = Math.min(15000, 500 * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5);
    attempt = Math.min(attempt + 1, 8);
    reconnectTimer = setTimeout(function () { reconnectTimer = null; connect(); }, delay);
  }
  function startHeartbeat() {
    if (heartbeat) { return; }
    heartbeat = setInterval(function () {
      if (!ws || ws.readyState !== 1) { return; }
      if (welcomed && Date.now() - lastHeard > 45000) { ws.close(); return; }  // a dead connection
      try { ws.send(JSON.stringify({ type: "ping" })); } catch (e) { /* closing */ }
    }, 20000);
  }
  function updateStatus() {
    // Said only after a failed attempt, while something waits or the panel is open.
    var show = !(ws && welcomed) && attempt > 0 && (waiting() || !panel.hidden);
    status.hidden = !show;
    status.textContent = show ? t("offline") : "";
  }

  function onEvent(data) {
    switch (data.type) {
      case "welcome":
        welcomed = true;
        attempt = 0;
        if (data.max_chars) { maxChars = data.max_chars; save("maxChars", maxChars); input.maxLength = maxChars; }
        updateStatus();
        flushOutbox();
        break;
      case "received":
        updateTyping(true);
        break;
      case "typing":
        updateTyping(!!data.on);
        break;
      case "bot":
        var wrote = written(data.client_id);
        settle(data.client_id);
        setState(data.client_id, "sent");
        updateTyping(waiting());
        if (!history.some(function (e) { return e.role === "bot" && e.reply_to === data.client_id; })) {
          var sanad = (data.turn && data.turn.sanad) || {};
          if (sanad.lang && wrote && inCitizensLanguage(sanad)) { convLang = sanad.lang; save("convLang", convLang); applyLang(); }
          if (sanad.handoff) { setLive(true); }
          addEntry({ role: "bot", reply_to: data.client_id, turn: data.turn, lang: currentLang() });
          var asked = userLi(data.client_id);
          if (asked) { scroller.scrollTop = Math.max(0, asked.offsetTop - 8); }  // read from the question down
          announce(tr(uiLang(sanad.lang || currentLang()), "bot") + " " + (data.turn.messages || []).map(function (m) { return m.text; }).join(" "));
        }
        break;
      case "retry":  // the assistant is unreachable: keep the message, send it again later
        updateTyping(false);
        notice(data.code, data.text, true);
        var item = outbox.filter(function (i) { return i.client_id === data.client_id; })[0];
        if (item && !retryTimers[item.client_id]) {
          retryTimers[item.client_id] = setTimeout(function () {
            delete retryTimers[item.client_id];
            transmit(item);
          }, (data.retry_after || 3) * 1000);
        }
        break;
      case "rejected":
        updateTyping(false);
        if (data.client_id) {
          var rejected = outbox.filter(function (i) { return i.client_id === data.client_id; })[0];
          settle(data.client_id);
          setState(data.client_id, "failed");
          if (rejected && data.code === "too_fast" && !input.value && !rejected.button) { input.value = rejected.text; }
          if (data.replay && history.some(function (e) { return e.role === "notice" && e.about === data.client_id; })) { break; }
        }
        notice(data.code, data.text, false, data.client_id);
        break;
      case "forwarded":  // a person holds the conversation: the message reached their screen
        settle(data.client_id);
        setState(data.client_id, "sent");
        updateTyping(waiting());
        break;
      case "agent":
        acknowledge(data.id);
        if (!history.some(function (e) { return e.role === "agent" && e.id === data.id; })) {
          setLive(true);
          addEntry({ role: "agent", id: data.id, text: data.text, lang: data.lang });
          announce(tr(uiLang(data.lang || currentLang()), "agent") + " " + data.text);
        }
        break;
      case "handoff":
        acknowledge(data.id);
        setLive(data.status === "claimed");
        if (!history.some(function (e) { return e.role === "notice" && e.about === data.id; })) {
          notice("handoff-" + data.status, data.text, false, data.id);
        }
        break;
      case "error":
        if (data.code === "bad_session" || data.code === "unavailable") { notice(data.code, data.text, true); }
        break;
      default:
        break;
    }
  }
  function acknowledge(id) {
    if (id && ws && ws.readyState === 1) { ws.send(JSON.stringify({ type: "ack", id: id })); }
  }
  function setLive(on) {
    liveHandoff = !!on;
    save("live", liveHandoff);
  }
  function written(id) {
    // Whether the citizen wrote words (not a button, not digits alone): an answer to anything
    // else is in the conversation's last language, which says nothing about the citizen's.
    var item = outbox.filter(function (i) { return i.client_id === id; })[0];
    return !!item && !item.button && /[A-Za-z\u00C0-\u024F\u0600-\u06FF]{2}/.test(item.text);
  }
  function inCitizensLanguage(sanad) {
    // The interface follows the conversation's language only when the answer is in the language
    // the citizen wrote. Latin-script Darija is answered in French (no arabizi answers are
    // written): following that answer turned the panel left to right, and back at the next one.
    var wrote = sanad.detected && sanad.detected.lang;
    return !wrote || uiLang(wrote) === uiLang(sanad.lang);
  }
  function notice(code, text, once, about) {
    if (!text) { return; }
    var lastEntry = history[history.length - 1];
    if (once && lastEntry && lastEntry.role === "notice" && lastEntry.code === code) { return; }
    addEntry({ role: "notice", code: code, text: text, about: about || null });
    announce(text);
  }

  // ---- interactions ----
  function openPanel(focus) {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    wrap.classList.add("sanad-open");
    save("open", true);
    showLatest();
    if (focus !== false) { input.focus(); }
    connect();
    updateStatus();
  }
  function closePanel() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    wrap.classList.remove("sanad-open");
    save("open", false);
    launcher.focus();
  }
  function chooseLang(code) {
    chosenLang = code;
    save("lang", code);
    applyLang();
    announce(t("langSet", { lang: LANG_NAMES[code] }));
  }
  launcher.addEventListener("click", function () {
    if (panel.hidden) { openPanel(); } else { closePanel(); }
  });
  closeBtn.addEventListener("click", closePanel);
  panel.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { ev.preventDefault(); closePanel(); }
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  input.addEventListener("input", updateCounter);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) { input.focus(); return; }
    input.value = "";
    updateCounter();
    send(text.slice(0, maxChars));
    input.focus();
  });
  window.addEventListener("online", function () { attempt = 0; connect(); });
  window.addEventListener("offline", function () {
    if (ws) { try { ws.close(); } catch (e) { /* already closed */ } }
  });

  function fetchConfig() {
    var url = ORIGIN + "/api/widget-config" + (FUND ? "?fund=" + encodeURIComponent(FUND) : "");
    return fetch(url, { credentials: "omit" }).then(function (r) {
      if (!r.ok) { throw new Error("config " + r.status); }
      return r.json();
    }).then(function (data) {
      config = data;
      save("config", config);
      applyLang();
    }).catch(function () { /* unreachable: the kept configuration, else the fund id, until next time */ });
  }

  function start() {
    if (config) { ready(); fetchConfig(); } else { fetchConfig().then(ready); }
    document.body.appendChild(host);
    applyLang();
    renderAll();
    startHeartbeat();
    if (load("open", false)) { openPanel(false); }
    if (waiting() || liveHandoff) { connect(); }
  }
  if (document.body) { start(); } else { document.addEventListener("DOMContentLoaded", start); }
})();
