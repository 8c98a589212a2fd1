// The caller's earlier tickets and calls on the softphone's call card (GET /phone/history): what the
// server sends, already in Vietnamese (statuses, dispositions, times in the province's time zone).

function part(box, title, kind, rows, fmt) {
  const h3 = document.createElement("h3");
  h3.textContent = title;
  const ul = document.createElement("ul");
  ul.dataset.kind = kind;
  rows.forEach((r) => {
    const li = document.createElement("li");
    li.textContent = fmt(r);
    li.dataset.id = kind === "tickets" ? r.code : r.call_id;
    ul.append(li);
  });
  if (!rows.length) { const li = document.createElement("li"); li.textContent = "Chưa có."; ul.append(li); }
  box.append(h3, ul);
}

// "This caller has N open requests", each a link to its ticket (opened beside the softphone, the call stays).
function openRequests(box, rows) {
  if (!rows.length) { return; }
  const p = document.createElement("p");
  p.className = "repeat-caller";
  p.dataset.kind = "open";
  p.append(`Người gọi này có ${rows.length} yêu cầu đang xử lý: `);
  rows.forEach((t, i) => {
    const a = document.createElement("a");
    a.href = "/tickets/" + encodeURIComponent(t.code);
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = t.code;
    a.title = `${t.status_vi} · ${t.received_vi} · ${t.content}`;
    p.append(a, i < rows.length - 1 ? ", " : "");
  });
  box.append(p);
}

// Fill `box` with the history of `number`, leaving out the ringing call `callId`.
export async function showHistory(box, number, callId) {
  box.textContent = "";
  delete box.dataset.loaded;
  if (!number) { return; }
  try {
    const res = await fetch("/phone/history?" + new URLSearchParams({ number, call: callId || "" }));
    const h = await res.json().catch(() => ({}));
    if (!res.ok) { throw new Error(h.message || res.statusText); }
    openRequests(box, h.open || []);
    part(box, "Phiếu trước đây", "tickets", h.tickets, (t) => `${t.code} · ${t.status_vi} · ${t.received_vi} · ${t.content}`);
    part(box, "Cuộc gọi trước đây", "calls", h.calls, (c) => `${c.started_vi} · ${c.disposition_vi}`);
    box.dataset.loaded = "1";
  } catch (err) { box.textContent = "Không tải được lịch sử: " + err.message; }
}
