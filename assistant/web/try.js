// The try page (/): ask, stream the answer, show sources, vote. Served as a file: the CSP allows no inline scripts.
(function () {
  "use strict";
  const form = document.getElementById("ask");
  const input = document.getElementById("question");
  const log = document.getElementById("conversation");
  let conversationId = null;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  async function vote(interactionId, rating, row) {
    const response = await fetch("/v1/feedback", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({interaction_id: interactionId, rating: rating, voter: "try-page"})
    });
    row.textContent = response.ok ? "Thanks for the feedback." : "Could not record feedback.";
  }

  function showDone(turn, final) {
    if (final.abstained) turn.classList.add("abstained");
    const sources = el("div", "sources");
    (final.citations || []).forEach(function (c, i) {
      const item = el("div", null, "[" + (i + 1) + "] ");
      const linkable = /^https?:\/\//.test(c.source);  // only web links; never javascript: or file paths
      const title = el(linkable ? "a" : "span", null, c.title + " (" + c.doc_id + ")");
      if (linkable) { title.href = c.source; title.target = "_blank"; title.rel = "noopener noreferrer"; }
      item.appendChild(title);
      sources.appendChild(item);
    });
    turn.appendChild(sources);
    const row = el("div", "meta");
    const up = el("button", "vote", "\u{1F44D}"); up.setAttribute("aria-label", "Helpful");
    const down = el("button", "vote", "\u{1F44E}"); down.setAttribute("aria-label", "Not helpful");
    up.onclick = function () { vote(final.interaction_id, "up", row); };
    down.onclick = function () { vote(final.interaction_id, "down", row); };
    row.append(up, " ", down, " release " + final.release);
    turn.appendChild(row);
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) return;
    input.value = "";
    const turn = el("div", "turn");
    turn.appendChild(el("div", "question", question));
    const answer = el("div", "answer", "\u2026");
    turn.appendChild(answer);
    log.appendChild(turn);
    const body = {model: "support-assistant", stream: true, channel: "web",
                  messages: [{role: "user", content: question}]};
    if (conversationId) body.conversation_id = conversationId;
    const response = await fetch("/v1/chat/completions", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)
    });
    if (!response.ok) {
      const problem = await response.json().catch(function () { return {}; });
      answer.textContent = "Error: " + (problem.detail || response.status);
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", text = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, cut).trim();
        buffer = buffer.slice(cut + 2);
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        const delta = chunk.choices[0].delta.content;
        if (delta) { text += delta; answer.textContent = text; }
        if (chunk.interaction_id) { showDone(turn, chunk); }
        if (chunk.conversation_id) conversationId = chunk.conversation_id;
      }
    }
  });
})();
