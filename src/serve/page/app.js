// The Bentevi chat page: talks to this server's OpenAI API (/v1/chat/completions, streamed),
// with model (LoRA adapter), persona and sampling controls, sources from an index, and the
// educational panel (each token's probability, alternatives and — for attention models — where
// the last block's heads looked, when "Modo educativo" is on).
const $ = (id) => document.getElementById(id);
const messagesEl = $("messages");
const input = $("input");
/** The conversation sent with each request: {role, content}. */
let history = [];
/** Aborts the answer being streamed. */
let running = null;
/** The base model's id (from /health). */
let baseModel = "bentevi";

const pct = (p) => `${(100 * p).toFixed(p >= 0.1 ? 0 : 1)}%`;
const show = (text) => JSON.stringify(text).slice(1, -1);

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function addMessage(role, text) {
  const li = element("li", `msg ${role}`);
  const body = element("span", "body", text);
  li.append(body);
  messagesEl.append(li);
  messagesEl.scrollTop = messagesEl.scrollHeight;
  return { li, body };
}

async function loadInfo() {
  try {
    const info = await (await fetch("/health")).json();
    $("model").textContent = `${info.model} — ${info.description}` +
      (info.context ? ` · contexto de ${info.context} tokens` : "");
    baseModel = info.model;
    // The base, then each LoRA adapter the server loaded (`serve --adapter NAME=DIR`).
    const base = element("option", "", `${info.model} (base)`);
    base.value = info.model;
    $("model-choice").append(base);
    for (const name of info.adapters ?? []) {
      const opt = element("option", "", name);
      opt.value = name;
      $("model-choice").append(opt);
    }
    $("model-row").hidden = !(info.adapters ?? []).length;
    for (const p of info.personas ?? []) {
      const opt = element("option", "", p.name);
      opt.value = p.name;
      opt.title = p.description + (p.adapter ? ` (com o adaptador ${p.adapter})` : "");
      $("persona").append(opt);
    }
    $("api-key-row").hidden = !info.api_key;
    $("api-key").value = localStorage.getItem("bentevi-api-key") ?? "";
    document.body.dataset.ready = "true";
  } catch (e) {
    $("model").textContent = `servidor indisponível (${e.message})`;
  }
}

function requestBody(messages) {
  const body = {
    model: $("model-choice").value || baseModel,
    messages,
    stream: true,
    stream_options: { include_usage: true },
    temperature: Number($("temperature").value),
    top_p: Number($("top-p").value),
    top_k: Number($("top-k").value),
    max_tokens: Number($("max-tokens").value),
  };
  if ($("persona").value) body.persona = $("persona").value;
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  if ($("explain").checked) body.explain = true;
  return body;
}

/** Reads server-sent events from a fetch response; calls onEvent with each parsed `data:`. */
async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        onEvent(JSON.parse(data));
      }
    }
  }
}

function showSources(li, sources) {
  if (!Array.isArray(sources) || sources.length === 0) return;
  const list = element("ol", "sources");
  for (const s of sources) {
    const where = s.citation ?? [s.title, s.path].filter(Boolean).join(" — ");
    const item = element("li", "", where || "fonte");
    if (s.text) item.title = s.text;
    list.append(item);
  }
  li.append(element("span", "meta", "Fontes:"), list);
}

async function send(text) {
  history.push({ role: "user", content: text });
  addMessage("user", text);
  const { li, body } = addMessage("assistant", "");
  li.dataset.state = "streaming";
  const controller = new AbortController();
  running = controller;
  $("send").disabled = true;
  $("stop").disabled = false;
  const t0 = performance.now();
  let firstAt = null, usage = null, finish = null, answer = "", answeredBy = null;
  try {
    const headers = { "content-type": "application/json" };
    const key = $("api-key").value;
    if (key) {
      headers.authorization = `Bearer ${key}`;
      localStorage.setItem("bentevi-api-key", key);
    }
    let response, dropped = 0;
    for (;;) {
      response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers,
        body: JSON.stringify(requestBody(history)),
        signal: controller.signal,
      });
      if (response.ok) break;
      const err = await response.json().catch(() => ({}));
      // The server never drops turns: the page drops the oldest exchange and tries again.
      if (err.error?.code === "context_length_exceeded" && history.length > 2) {
        history.splice(0, 2);
        dropped += 2;
        continue;
      }
      throw new Error(err.error?.message ?? `HTTP ${response.status}`);
    }
    if (dropped) {
      li.append(element("span", "meta", `${dropped} mensagens antigas fora do contexto`));
    }
    await readEvents(response, (chunk) => {
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) usage = chunk.usage;
      if (chunk.model) answeredBy = chunk.model;
      const choice = chunk.choices?.[0];
      if (!choice) return;
      if (choice.sources) showSources(li, choice.sources);
      if (chunk.sources) showSources(li, chunk.sources);
      if (choice.finish_reason) finish = choice.finish_reason;
      const piece = choice.delta?.content ?? "";
      if (piece) {
        firstAt ??= performance.now();
        answer += piece;
      }
      if (piece || choice.explain) {
        const span = element("span", choice.explain ? "tok" : "", piece);
        if (choice.explain) {
          span.addEventListener("click", () => explainTokens(span, choice.explain));
        }
        body.append(span);
        messagesEl.scrollTop = messagesEl.scrollHeight;
      }
    });
    history.push({ role: "assistant", content: answer.trim() });
    const seconds = (performance.now() - t0) / 1000;
    const parts = [];
    if (usage) {
      parts.push(`${usage.completion_tokens} tokens`);
      parts.push(`${(usage.completion_tokens / seconds).toFixed(1)} tokens/s`);
    }
    if (firstAt) parts.push(`primeiro token em ${Math.round(firstAt - t0)} ms`);
    if (finish === "length") parts.push("cortada no limite de tokens");
    if ($("persona").value) parts.push(`persona ${$("persona").value}`);
    if (answeredBy && answeredBy !== baseModel) parts.push(`adaptador ${answeredBy}`);
    li.append(element("span", "meta", parts.join(" · ")));
    li.dataset.state = "done";
  } catch (e) {
    history.pop();
    if (e.name === "AbortError") {
      li.append(element("span", "meta", "interrompida"));
      li.dataset.state = "stopped";
    } else {
      li.remove();
      addMessage("error", `Erro: ${e.message}`);
    }
  } finally {
    running = null;
    $("send").disabled = false;
    $("stop").disabled = true;
    input.focus();
  }
}

/** The educational panel: what the model considered for the tokens behind one piece of text. */
function explainTokens(span, steps) {
  document.querySelectorAll(".tok.selected").forEach((s) => s.classList.remove("selected"));
  span.classList.add("selected");
  const detail = $("edu-detail");
  detail.replaceChildren();
  for (const step of steps) {
    const text = step.text ?? step.token;
    detail.append(element(
      "h2",
      "",
      `“${show(text)}” — id ${step.id}, probabilidade ${pct(step.prob)}`,
    ));
    const table = element("table");
    const head = element("tr");
    for (const h of ["candidato", "prob.", "após amostragem"]) head.append(element("th", "", h));
    table.append(head);
    for (const c of step.top ?? []) {
      const row = element("tr", c.kept === false ? "cut" : "");
      const name = c.text ?? c.token ?? `#${c.id}`;
      row.append(element("td", "", `“${show(name)}”${c.id === step.id ? " ◀" : ""}`));
      const cell = element("td");
      const bar = element("span", "bar");
      bar.style.width = `${Math.round(60 * c.prob)}px`;
      cell.append(bar, ` ${pct(c.prob)}`);
      row.append(cell);
      row.append(element("td", "", c.sampleProb === undefined ? "" : pct(c.sampleProb)));
      table.append(row);
    }
    detail.append(table);
    if (step.sampling && typeof step.sampling === "object") {
      const s = step.sampling;
      const bits = [];
      if (s.greedy) bits.push("gulosa (temperatura 0): o token mais provável");
      else {
        const keys = [
          "temperature",
          "topK",
          "keptAfterTopK",
          "topP",
          "keptAfterTopP",
          "repetitionPenalty",
          "draw",
        ];
        for (const k of keys) {
          const v = s[k];
          if (typeof v === "number") bits.push(`${k} ${Number.isInteger(v) ? v : +v.toFixed(3)}`);
        }
      }
      if (bits.length) detail.append(element("p", "muted", `Amostragem: ${bits.join(", ")}`));
    }
    if (step.attention) detail.append(attentionView(step.attention));
  }
}

/**
 * Where the last block's heads looked when the model chose this token: one row per head, its
 * most attended earlier positions (token, position in the context, weight), strongest first.
 */
function attentionView(att) {
  const box = element("div", "attention");
  box.append(element(
    "h3",
    "",
    `Atenção — bloco ${att.layer} (o último), sobre ${att.positions ?? "?"} posições`,
  ));
  const table = element("table");
  const head = element("tr");
  for (const h of ["cabeça", "posições mais olhadas (token @posição, peso)"]) {
    head.append(element("th", "", h));
  }
  table.append(head);
  for (const h of att.heads ?? []) {
    const row = element("tr");
    row.append(element("td", "", String(h.head)));
    const cell = element("td", "focus");
    for (const t of h.top ?? []) {
      const item = element("div", "att");
      item.dataset.position = String(t.position);
      item.dataset.weight = String(t.weight);
      const bar = element("span", "bar");
      bar.style.width = `${Math.round(40 * t.weight)}px`;
      item.append(bar, `“${show(t.text)}” @${t.position} ${pct(t.weight)}`);
      cell.append(item);
    }
    row.append(cell);
    table.append(row);
  }
  box.append(table);
  return box;
}

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text || running) return;
  input.value = "";
  send(text);
});
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});
$("stop").addEventListener("click", () => running?.abort());
$("clear").addEventListener("click", () => {
  running?.abort();
  history = [];
  messagesEl.replaceChildren();
});
for (const id of ["temperature", "top-p"]) {
  $(id).addEventListener("input", () => $(`${id}-value`).textContent = $(id).value);
}
$("explain").addEventListener("change", () => $("edu").hidden = !$("explain").checked);
loadInfo();
