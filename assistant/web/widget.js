/*! Support assistant web widget. Embed with:
 *   <script src="https://ASSISTANT_HOST/widget.js" async></script>
 * Options (data- attributes on that tag): data-title, data-greeting, data-color, data-position
 * (right|left), data-language (en|de|fr|es), data-key (the public widget key).
 * Plain JavaScript, no build step. Everything lives in an open shadow root; text from people,
 * documents and the model only ever reaches the page through textContent. */
(function () {
  "use strict";
  if (window.__supportAssistantWidget) return;
  window.__supportAssistantWidget = true;

  var script = document.currentScript;
  if (!script || !/\/widget\.js(\?|#|$)/.test(script.src)) {
    var found = document.querySelectorAll("script[src]");
    for (var i = 0; i < found.length; i++) {
      if (/\/widget\.js(\?|#|$)/.test(found[i].src)) { script = found[i]; break; }
    }
  }
  if (!script) return;
  var src = new URL(script.src, location.href);
  var API = src.origin + src.pathname.replace(/\/widget\.js$/, "");
  var data = script.dataset;

  var STRINGS = {
    en: {open: "Open support chat", close: "Close", title: "Support", greeting: "Hi! Ask me anything about our products and services.",
      placeholder: "Type your question…", send: "Send", input: "Your question", up: "Helpful", down: "Not helpful",
      solved: "Did this solve your problem?", yes: "Yes", no: "No", human: "Talk to a human", verified: "Verified answer",
      sources: "Sources", why: "What was missing? (optional)", sendComment: "Send feedback", thanks: "Thanks for the feedback.",
      handoff: "Thanks. A member of our support team will pick this up.", glad: "Glad that helped!",
      sorry: "Sorry about that. You can ask in other words, or talk to a human.", wait: "You're sending messages too quickly. Please try again in {s} seconds.",
      offline: "Sorry, the assistant can't be reached from this page right now.", failed: "Sorry, something went wrong. Please try again.",
      setup: "Sorry, the assistant isn't set up correctly on this site.", interrupted: "The answer was interrupted. Please try again.",
      you: "You", bot: "Assistant"},
    de: {open: "Support-Chat öffnen", close: "Schließen", title: "Support", greeting: "Hallo! Fragen Sie mich zu unseren Produkten und Diensten.",
      placeholder: "Ihre Frage…", send: "Senden", input: "Ihre Frage", up: "Hilfreich", down: "Nicht hilfreich",
      solved: "Hat das Ihr Problem gelöst?", yes: "Ja", no: "Nein", human: "Mit einem Menschen sprechen", verified: "Geprüfte Antwort",
      sources: "Quellen", why: "Was hat gefehlt? (optional)", sendComment: "Feedback senden", thanks: "Danke für Ihr Feedback.",
      handoff: "Danke. Jemand aus unserem Support-Team meldet sich.", glad: "Schön, dass es geholfen hat!",
      sorry: "Das tut uns leid. Fragen Sie anders oder sprechen Sie mit einem Menschen.", wait: "Zu viele Nachrichten. Bitte in {s} Sekunden erneut versuchen.",
      offline: "Der Assistent ist von dieser Seite aus gerade nicht erreichbar.", failed: "Etwas ist schiefgegangen. Bitte erneut versuchen.",
      setup: "Der Assistent ist auf dieser Website nicht richtig eingerichtet.", interrupted: "Die Antwort wurde unterbrochen. Bitte erneut versuchen.",
      you: "Sie", bot: "Assistent"},
    fr: {open: "Ouvrir le chat d'assistance", close: "Fermer", title: "Assistance", greeting: "Bonjour ! Posez-moi vos questions sur nos produits et services.",
      placeholder: "Votre question…", send: "Envoyer", input: "Votre question", up: "Utile", down: "Pas utile",
      solved: "Cela a-t-il résolu votre problème ?", yes: "Oui", no: "Non", human: "Parler à un humain", verified: "Réponse vérifiée",
      sources: "Sources", why: "Que manquait-il ? (facultatif)", sendComment: "Envoyer", thanks: "Merci pour votre avis.",
      handoff: "Merci. Un membre de notre équipe va prendre le relais.", glad: "Ravi d'avoir pu aider !",
      sorry: "Désolé. Reformulez votre question ou parlez à un humain.", wait: "Trop de messages. Réessayez dans {s} secondes.",
      offline: "L'assistant est injoignable depuis cette page pour le moment.", failed: "Une erreur est survenue. Réessayez.",
      setup: "L'assistant n'est pas correctement configuré sur ce site.", interrupted: "La réponse a été interrompue. Réessayez.",
      you: "Vous", bot: "Assistant"},
    es: {open: "Abrir el chat de ayuda", close: "Cerrar", title: "Ayuda", greeting: "¡Hola! Pregúntame sobre nuestros productos y servicios.",
      placeholder: "Escribe tu pregunta…", send: "Enviar", input: "Tu pregunta", up: "Útil", down: "No es útil",
      solved: "¿Se resolvió tu problema?", yes: "Sí", no: "No", human: "Hablar con una persona", verified: "Respuesta verificada",
      sources: "Fuentes", why: "¿Qué faltó? (opcional)", sendComment: "Enviar", thanks: "Gracias por tu opinión.",
      handoff: "Gracias. Alguien de nuestro equipo se encargará.", glad: "¡Nos alegra haber ayudado!",
      sorry: "Lo sentimos. Pregunta de otra forma o habla con una persona.", wait: "Demasiados mensajes. Inténtalo en {s} segundos.",
      offline: "No se puede contactar con el asistente desde esta página.", failed: "Algo salió mal. Inténtalo de nuevo.",
      setup: "El asistente no está bien configurado en este sitio.", interrupted: "La respuesta se interrumpió. Inténtalo de nuevo.",
      you: "Tú", bot: "Asistente"}
  };
  var lang = (data.language || document.documentElement.lang || "en").toLowerCase();
  var T = STRINGS[lang] || STRINGS[lang.split("-")[0]] || STRINGS.en;
  var title = data.title || T.title;
  var color = data.color || data.colour || "#2f6fed";
  if (!(window.CSS && CSS.supports && CSS.supports("color", color))) color = "#2f6fed";
  var left = data.position === "left";

  // -- session: a random 128-bit id, the conversation's secret, kept in localStorage ------------
  var SESSION_KEY = "support-assistant:session:" + API;
  var OPEN_KEY = "support-assistant:open:" + API;
  function store(kind) { try { return window[kind]; } catch (e) { return null; } }
  function newSession() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }
  var local = store("localStorage");
  var session = null;
  try { session = local && local.getItem(SESSION_KEY); } catch (e) { /* storage blocked */ }
  if (!session || !/^[0-9a-f]{32}$/.test(session)) {
    session = newSession();
    try { if (local) local.setItem(SESSION_KEY, session); } catch (e) { /* memory only */ }
  }

  // -- DOM helpers: elements and text only, never HTML -------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "class") node.className = attrs[name];
      else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), attrs[name]);
      else node.setAttribute(name, attrs[name]);
    }
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function safeUrl(href) {
    try {
      var url = new URL(href);
      return /^(https?|mailto):$/.test(url.protocol) ? url.href : null;
    } catch (e) { return null; }
  }
  function link(href, text) {
    return el("a", {href: href, target: "_blank", rel: "noopener noreferrer nofollow", text: text});
  }

  // -- Markdown, the safe subset: paragraphs, lists, headings as bold, **bold**, *italic*, `code`,
  //    ``` blocks, [links](http|https|mailto) and bare URLs. Images show their alt text only;
  //    underscores are left alone (snake_case and __names__ are common in answers). ------
  var INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\s][^*\n]*\*)|(!?\[[^\]\n]*\]\([^)\s]*\))|((?:https?:\/\/|mailto:)[^\s<>()\]]+[^\s<>()\].,;:!?'"])/;
  function inline(text, parent) {
    var match;
    while ((match = INLINE.exec(text))) {
      if (match.index) parent.appendChild(document.createTextNode(text.slice(0, match.index)));
      var token = match[0];
      if (match[1]) parent.appendChild(el("code", {text: token.slice(1, -1)}));
      else if (match[2]) inline(token.slice(2, -2), parent.appendChild(el("strong")));
      else if (match[3]) inline(token.slice(1, -1), parent.appendChild(el("em")));
      else if (match[4]) {
        var label = token.slice(token.indexOf("[") + 1, token.indexOf("]("));
        var href = token[0] === "!" ? null : safeUrl(token.slice(token.indexOf("](") + 2, -1));
        parent.appendChild(href ? link(href, label) : document.createTextNode(label));
      } else {
        var url = safeUrl(token);
        parent.appendChild(url ? link(url, token) : document.createTextNode(token));
      }
      text = text.slice(match.index + token.length);
    }
    if (text) parent.appendChild(document.createTextNode(text));
    return parent;
  }
  function markdown(source, target) {
    target.textContent = "";
    var lines = source.replace(/\r/g, "").split("\n");
    var para = [], list = null, code = null;
    function flush() {
      if (para.length) target.appendChild(inline(para.join(" "), el("p")));
      para = [];
      list = null;
    }
    lines.forEach(function (line) {
      if (code) {
        if (/^\s*```/.test(line)) { code = null; return; }
        code.textContent += (code.textContent ? "\n" : "") + line;
        return;
      }
      if (/^\s*```/.test(line)) {
        flush();
        code = el("code");
        target.appendChild(el("pre", null, [code]));
        return;
      }
      var item = /^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/.exec(line);
      if (item) {
        if (para.length) flush();
        var kind = item[1] ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== kind) list = target.appendChild(el(kind));
        list.appendChild(inline(item[3], el("li")));
        return;
      }
      if (!line.trim()) { flush(); return; }
      var heading = /^\s*#{1,6}\s+(.*)$/.exec(line);
      if (heading) { flush(); target.appendChild(el("p", null, [inline(heading[1], el("strong"))])); return; }
      if (list && /^\s+/.test(line)) {
        inline(" " + line.trim(), list.lastChild);
        return;
      }
      list = null;
      para.push(line.trim());
    });
    flush();
  }

  // -- styles (adopted where supported, so a host page's CSP on inline styles does not apply) -----
  var CSS_TEXT = ":host{all:initial;--accent:" + color + "}" +
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    ".launcher{position:fixed;bottom:20px;" + (left ? "left" : "right") + ":20px;width:56px;height:56px;border-radius:50%;border:0;" +
    "background:var(--accent);color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000;display:grid;place-items:center}" +
    ".launcher svg{width:28px;height:28px;fill:currentColor}" +
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}" +
    ".panel{position:fixed;bottom:88px;" + (left ? "left" : "right") + ":20px;width:380px;height:min(600px,calc(100vh - 110px));" +
    "display:flex;flex-direction:column;background:#fff;color:#1d2330;border-radius:14px;overflow:hidden;" +
    "box-shadow:0 10px 40px rgba(0,0,0,.28);z-index:2147483001;font-size:15px;line-height:1.45}" +
    ".panel[hidden]{display:none}" +
    "header{display:flex;align-items:center;justify-content:space-between;padding:12px 16px;background:var(--accent);color:#fff}" +
    "h2{margin:0;font-size:16px;font-weight:600}" +
    ".close{background:none;border:0;color:#fff;font-size:24px;line-height:1;cursor:pointer;padding:2px 6px;border-radius:6px}" +
    ".log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px;background:#f6f7fb}" +
    ".msg{max-width:88%;padding:9px 12px;border-radius:12px;overflow-wrap:anywhere}" +
    ".msg p{margin:0 0 .5em}.msg p:last-child{margin-bottom:0}.msg ul,.msg ol{margin:.2em 0 .5em;padding-left:1.3em}" +
    ".msg pre{background:#eef0f5;padding:8px;border-radius:6px;overflow-x:auto;white-space:pre}.msg code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}" +
    ".msg a{color:#1a4fc4}" +
    ".user{align-self:flex-end;background:var(--accent);color:#fff;border-bottom-right-radius:4px;white-space:pre-wrap}" +
    ".assistant,.greeting{align-self:flex-start;background:#fff;border:1px solid #e1e5ee;border-bottom-left-radius:4px}" +
    ".verified{display:inline-block;font-size:12px;font-weight:600;color:#106b3a;background:#e3f6ea;border-radius:10px;padding:1px 8px;margin-bottom:6px}" +
    ".sources{margin-top:8px;font-size:13px;color:#4a5568}.sources ol{margin:2px 0 0;padding-left:1.3em}" +
    ".actions{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin-top:8px;font-size:13px;color:#4a5568}" +
    ".actions button,.comment button{background:#fff;border:1px solid #c8cfdb;border-radius:14px;padding:3px 10px;font-size:13px;cursor:pointer;color:#1d2330}" +
    ".actions button[aria-pressed=true]{background:#e8efff;border-color:var(--accent)}" +
    ".actions button:disabled{cursor:default;opacity:.75}" +
    ".comment{display:flex;gap:6px;margin-top:6px}.comment textarea{flex:1;min-height:34px;resize:vertical}" +
    ".note{font-size:13px;color:#106b3a;margin-top:6px}" +
    ".status{padding:8px 14px;font-size:14px;background:#fff4e5;color:#7a4300;border-top:1px solid #f3d19c}.status:empty{display:none}" +
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #e1e5ee;background:#fff}" +
    "textarea{font:inherit;font-size:15px;border:1px solid #c8cfdb;border-radius:8px;padding:8px}" +
    "form textarea{flex:1;resize:none;height:42px;max-height:120px}" +
    ".send{background:var(--accent);color:#fff;border:0;border-radius:8px;padding:0 16px;font:inherit;font-weight:600;cursor:pointer}" +
    ".send:disabled{opacity:.6;cursor:default}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    "@media (max-width:480px){.panel{inset:0;width:100%;height:100%;border-radius:0}.launcher{bottom:14px}}";

  // -- the widget --------------------------------------------------------------------------------
  var host = el("div", {id: "support-assistant-widget"});
  var root = host.attachShadow({mode: "open"});
  if (root.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS_TEXT);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.appendChild(el("style", {text: CSS_TEXT}));
  }
  var SVG = "http://www.w3.org/2000/svg";
  var icon = document.createElementNS(SVG, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("aria-hidden", "true");
  var path = document.createElementNS(SVG, "path");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
  icon.appendChild(path);

  var launcher = el("button", {class: "launcher", type: "button", "data-testid": "assistant-launcher",
    "aria-label": T.open, "aria-expanded": "false", "aria-controls": "assistant-panel"}, [icon]);
  var log = el("div", {class: "log", "aria-live": "polite", "aria-relevant": "additions"});
  var status = el("div", {class: "status", role: "status"});
  var input = el("textarea", {rows: "1", placeholder: T.placeholder, "aria-label": T.input,
    "data-testid": "assistant-input", maxlength: "4000"});
  var send = el("button", {class: "send", type: "submit", "data-testid": "assistant-send", text: T.send});
  var form = el("form", {onsubmit: function (event) { event.preventDefault(); ask(); }}, [input, send]);
  var closeButton = el("button", {class: "close", type: "button", "aria-label": T.close, text: "\u00d7", onclick: function () { toggle(false); }});
  var panel = el("div", {class: "panel", id: "assistant-panel", role: "dialog", "aria-label": title, lang: lang, hidden: ""},
    [el("header", null, [el("h2", {text: title}), closeButton]), log, status, form]);
  root.appendChild(launcher);
  root.appendChild(panel);
  log.appendChild(el("div", {class: "msg greeting", text: data.greeting || T.greeting}));

  var busy = false, historyLoaded = false;
  function toggle(open, quiet) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    try { sessionStorage.setItem(OPEN_KEY, open ? "1" : ""); } catch (e) { /* not kept */ }
    if (open) {
      if (!quiet) input.focus();
      if (!historyLoaded) { historyLoaded = true; loadHistory(); }
    } else if (!quiet) {
      launcher.focus();
    }
  }
  launcher.addEventListener("click", function () { toggle(panel.hidden); });
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) { event.preventDefault(); toggle(false); }
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); ask(); }
  });

  // -- talking to the API ------------------------------------------------------------------------
  function api(path, options) {
    options = options || {};
    var headers = {"X-Assistant-Session": session};
    if (data.key) headers["X-Assistant-Widget-Key"] = data.key;
    if (options.body) headers["Content-Type"] = "application/json";
    return fetch(API + path, {method: options.body ? "POST" : "GET", headers: headers, mode: "cors",
      credentials: "omit", body: options.body ? JSON.stringify(options.body) : undefined});
  }
  function problem(response) {
    if (!response) return T.offline;
    if (response.status === 429) {
      var seconds = parseInt(response.headers.get("Retry-After"), 10) || 30;
      return T.wait.replace("{s}", seconds);
    }
    if (response.status === 401 || response.status === 403) return T.setup;
    return T.failed;
  }
  function report(response, error) {
    status.textContent = problem(response);
    if (!response && window.console) console.warn("support assistant: no answer from " + API +
      " (is this page's origin in ASSISTANT_WIDGET_ALLOWED_ORIGINS?)", error || "");
    else if (response && response.status !== 429 && window.console) console.warn("support assistant: HTTP " + response.status + " from " + API);
  }

  function loadHistory() {
    api("/widget/v1/history").then(function (response) {
      if (!response.ok) { report(response); return null; }
      return response.json();
    }).then(function (body) {
      if (!body) return;
      var anchor = log.firstChild.nextSibling;
      body.turns.forEach(function (turn) {
        log.insertBefore(userMessage(turn.question), anchor);
        var message = assistantMessage();
        log.insertBefore(message.node, anchor);
        markdown(turn.answer, message.body);
        finish(message, turn);
      });
      log.scrollTop = log.scrollHeight;
    }).catch(function (error) { report(null, error); });
  }

  function userMessage(text) {
    return el("div", {class: "msg user", "data-testid": "assistant-message", "data-role": "user"},
      [el("span", {class: "sr", text: T.you + ": "}), text]);
  }
  function assistantMessage() {
    var body = el("div", {class: "body"});
    var node = el("div", {class: "msg assistant", "data-testid": "assistant-message", "data-role": "assistant"},
      [el("span", {class: "sr", text: T.bot + ": "}), body]);
    return {node: node, body: body};
  }

  function ask() {
    var question = input.value.trim();
    if (!question || busy) return;
    busy = true;
    send.disabled = true;
    status.textContent = "";
    input.value = "";
    log.appendChild(userMessage(question));
    var message = assistantMessage();
    message.node.setAttribute("aria-busy", "true");
    message.body.textContent = "\u2026";
    log.appendChild(message.node);
    log.scrollTop = log.scrollHeight;
    var text = "", final = null;
    function done() {
      busy = false;
      send.disabled = false;
      message.node.removeAttribute("aria-busy");
    }
    api("/widget/v1/chat", {body: {message: question}}).then(function (response) {
      if (!response.ok) {
        message.node.remove();
        report(response);
        return;
      }
      var reader = response.body.getReader(), decoder = new TextDecoder(), buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) {
            if (!final) status.textContent = T.interrupted;
            return;
          }
          buffer += decoder.decode(chunk.value, {stream: true});
          var cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            var line = buffer.slice(0, cut).trim();
            buffer = buffer.slice(cut + 2);
            if (line.indexOf("data:") !== 0) continue;
            var payload = line.slice(5).trim();
            if (payload === "[DONE]") continue;
            var event = JSON.parse(payload);
            var delta = event.choices && event.choices[0].delta.content;
            if (delta) { text += delta; markdown(text, message.body); log.scrollTop = log.scrollHeight; }
            if (event.interaction_id) final = event;
          }
          return pump();
        });
      }
      return pump().then(function () {
        if (final) {
          markdown(text, message.body);
          finish(message, final);
          log.scrollTop = log.scrollHeight;
        }
      });
    }).catch(function (error) {
      if (!text) message.node.remove();
      report(text ? {status: 0} : null, error);
      if (text) status.textContent = T.interrupted;
    }).then(function () { done(); input.focus(); });
  }

  // -- what goes under an answer: verified label, sources, feedback ------------------------------
  function finish(message, answer) {
    if (answer.curated_answer_id) {
      message.body.parentNode.insertBefore(el("div", {class: "verified", "data-testid": "assistant-verified", text: "\u2713 " + T.verified}), message.body);
    }
    var seen = {}, items = [];
    (answer.citations || []).forEach(function (citation) {
      var key = citation.doc_id || citation.title;
      if (seen[key] || /^curated:/.test(key)) return;  // a curated answer's own entry: the label says it
      seen[key] = true;
      var url = /^https?:\/\//i.test(citation.source || "") ? safeUrl(citation.source) : null;
      var label = citation.title || citation.doc_id;
      var source = url ? link(url, label) : el("span", {text: label});
      source.setAttribute("data-testid", "assistant-source");
      items.push(el("li", null, [source]));
    });
    if (items.length) {
      message.node.appendChild(el("div", {class: "sources"}, [el("span", {text: T.sources + ":"}), el("ol", null, items)]));
    }
    message.node.appendChild(actions(answer));
  }

  function actions(answer) {
    var id = answer.interaction_id;
    var box = el("div");
    var row = el("div", {class: "actions"});
    var note = el("div", {class: "note", role: "status"});
    function button(testid, label, text, pressed) {
      return el("button", {type: "button", "data-testid": testid, "aria-label": label, text: text, "aria-pressed": String(!!pressed)});
    }
    function post(body, thanks) {
      return api("/widget/v1/feedback", {body: Object.assign({interaction_id: id}, body)}).then(function (response) {
        if (!response.ok) { report(response); return false; }
        if (thanks) note.textContent = thanks;
        return true;
      }).catch(function (error) { report(null, error); return false; });
    }
    var up = button("assistant-thumbs-up", T.up, "\uD83D\uDC4D", answer.rating === "up");
    var down = button("assistant-thumbs-down", T.down, "\uD83D\uDC4E", answer.rating === "down");
    var yes = button("assistant-resolved", T.yes, T.yes, answer.resolution === "resolved");
    var no = button("assistant-unresolved", T.no, T.no, answer.resolution === "unresolved");
    var human = el("button", {type: "button", "data-testid": "assistant-human", text: T.human});
    if (answer.resolution === "escalated") { human.disabled = true; note.textContent = T.handoff; }
    function press(chosen, other) { chosen.setAttribute("aria-pressed", "true"); other.setAttribute("aria-pressed", "false"); }
    up.onclick = function () { post({rating: "up"}, T.thanks).then(function (ok) { if (ok) press(up, down); }); };
    down.onclick = function () {
      post({rating: "down"}, T.thanks).then(function (ok) {
        if (!ok) return;
        press(down, up);
        if (box.querySelector(".comment")) return;
        var comment = el("textarea", {"aria-label": T.why, placeholder: T.why, maxlength: "2000"});
        var form = el("div", {class: "comment"}, [comment, el("button", {type: "button", text: T.sendComment, onclick: function () {
          var text = comment.value.trim();
          if (!text) { form.remove(); return; }
          post({rating: "down", comment: text}, T.thanks).then(function (sent) { if (sent) form.remove(); });
        }})]);
        box.insertBefore(form, note);
        comment.focus();
      });
    };
    yes.onclick = function () { post({resolution: "resolved"}, T.glad).then(function (ok) { if (ok) press(yes, no); }); };
    no.onclick = function () { post({resolution: "unresolved"}, T.sorry).then(function (ok) { if (ok) press(no, yes); }); };
    human.onclick = function () {
      human.disabled = true;
      post({resolution: "escalated"}, T.handoff).then(function (ok) { if (!ok) human.disabled = false; });
    };
    row.appendChild(up);
    row.appendChild(down);
    row.appendChild(el("span", {text: T.solved}));
    row.appendChild(yes);
    row.appendChild(no);
    row.appendChild(human);
    box.appendChild(row);
    box.appendChild(note);
    return box;
  }

  function mount() {
    document.body.appendChild(host);
    var wasOpen = null;
    try { wasOpen = sessionStorage.getItem(OPEN_KEY); } catch (e) { /* not kept */ }
    if (wasOpen) toggle(true, true);  // reopen after a reload, without taking the focus
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
