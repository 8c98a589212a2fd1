// The operator's softphone: SIP.js over WebSocket to Asterisk, WebRTC audio, and the console's
// own endpoints (/phone/...) for the operator's state, the caller's history, transfers, tickets.
import { Registerer, RegistererState, SessionState, UserAgent } from "./vendor/sip.js/index.js";
import { showHistory } from "./history.js";

const $ = (id) => document.getElementById(id);
const csrf = document.querySelector('meta[name="csrf-token"]').content;
// The one table of Vietnamese labels (hotline/domain/labels.py), in the page: never show a code such as "to_queue".
const LABELS = JSON.parse($("labels").textContent);
let ua, registerer, session = null, callId = "", caller = "", timer = null, attended = false;

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    body: JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) { throw new Error(data.message || res.statusText); }
  return data;
}

function say(id, text) { $(id).textContent = text; }

function showState(st) {
  const el = $("op-state");
  el.dataset.state = st.state;
  el.textContent = LABELS.operator_state[st.state] || st.state;
}

async function setState(state) {
  try {
    showState(await api("/phone/state", { state, reason: $("pause-reason").value }));
  } catch (err) { say("call-msg", "Không đổi được trạng thái: " + err.message); }
}

function attachAudio(s) {
  const pc = s.sessionDescriptionHandler.peerConnection;
  const stream = new MediaStream();
  pc.getReceivers().forEach((r) => { if (r.track) { stream.addTrack(r.track); } });
  $("remote-audio").srcObject = stream;
}

function startTimer() {
  const t0 = Date.now();
  timer = setInterval(() => {
    const s = Math.floor((Date.now() - t0) / 1000);
    say("call-timer", `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`);
  }, 500);
}

function wrapUp(seconds) {
  if (!seconds) { return; }
  const el = $("wrapup");
  let left = seconds;
  el.hidden = false;
  const tick = () => {
    el.textContent = `(hoàn tất cuộc gọi: còn ${left} giây)`;
    if (left-- <= 0) { clearInterval(id); el.hidden = true; api("/phone/state").then(showState).catch(() => {}); }
  };
  const id = setInterval(tick, 1000);
  tick();
}

function resetControls() {
  for (const [id, label] of [["btn-mute", "Tắt tiếng"], ["btn-hold", "Giữ máy"]]) {
    $(id).setAttribute("aria-pressed", "false");
    $(id).textContent = label;
    delete $(id).dataset.busy;
  }
  delete $("call-card").dataset.hold;
}

function ended(msg) {
  clearInterval(timer);
  resetControls();
  session = null;
  attended = false;
  $("btn-back").hidden = true;
  $("call-card").dataset.state = "ended";
  say("call-title", "Cuộc gọi đã kết thúc");
  say("call-msg", msg || "");
  $("btn-answer").disabled = true;
  $("btn-hangup").disabled = true;
  say("btn-hangup", "Kết thúc");
}

function incoming(invitation) {
  if (session) { invitation.reject({ statusCode: 486 }); return; }
  session = invitation;
  callId = invitation.request.getHeader("X-Hotline-Call") || "";
  caller = invitation.remoteIdentity.uri.user || "";
  const card = $("call-card");
  card.hidden = false;
  card.dataset.state = "ringing";
  card.dataset.callId = callId;
  // the console's own click-to-call rings this phone first ("Gọi <number>": hotline/services/outbound.py)
  // a call-back a waiting caller asked for (key 2 in the queue) comes as "Gọi lại" (asterisk_conf: hotline-callback-place)
  const name = invitation.remoteIdentity.displayName || "";
  const callingBack = name === "Gọi lại";
  const callingOut = callingBack || name.startsWith("Gọi ");
  card.dataset.direction = callingOut ? "out" : "in";
  card.dataset.callback = callingBack ? "yes" : "no";
  say("call-title", callingBack ? "Gọi lại cho công dân" : callingOut ? "Nhấc máy để gọi cho công dân" : "Cuộc gọi đến");
  say("caller", caller);
  say("call-msg", callingBack ? "Công dân đã bấm phím 2 khi chờ để được gọi lại. Trả lời: tổng đài gọi cho công dân; "
    + "Từ chối: cuộc gọi lại chuyển sang tổng đài viên khác." : "");
  say("call-timer", "");
  $("btn-answer").disabled = false;
  $("btn-hangup").disabled = false;
  say("btn-hangup", "Từ chối");            // ringing: declining sends it to the next operator (603 Decline)
  say("ticket-msg", "");
  showHistory($("history"), caller, callId);
  invitation.stateChange.addListener((st) => {
    if (st === SessionState.Established) {
      card.dataset.state = "talking";
      say("btn-hangup", "Kết thúc");
      say("call-title", card.dataset.direction === "out" ? "Đang gọi cho công dân" : "Đang nói chuyện với");
      $("btn-answer").disabled = true;
      attachAudio(invitation);
      startTimer();
      showState({ state: "on_call" });
    } else if (st === SessionState.Terminated) {
      const wasTalking = card.dataset.state === "talking";
      ended(wasTalking ? "" : "Người gọi đã gác máy.");
      if (wasTalking) { api("/phone/account").then((a) => wrapUp(a.wrapup_seconds)).catch(() => {}); }
    }
  });
}

async function main() {
  const acc = await api("/phone/account");
  ua = new UserAgent({
    uri: UserAgent.makeURI(acc.uri),
    displayName: acc.display_name,
    authorizationUsername: acc.username,
    authorizationPassword: acc.password,
    transportOptions: { server: acc.websocket },
    logBuiltinEnabled: false,
    sessionDescriptionHandlerFactoryOptions: {
      iceGatheringTimeout: acc.ice_timeout_ms,           // a closed network must not stall the answer
      peerConnectionConfiguration: { iceServers: [] },
    },
    delegate: {
      onInvite: incoming,
      onDisconnect: () => { $("reg-state").dataset.state = "offline"; say("reg-state", "Mất kết nối, đang thử lại…"); },
      onConnect: () => registerer && registerer.register().catch(() => {}),
    },
    reconnectionAttempts: 1000,
    reconnectionDelay: 3,
  });
  registerer = new Registerer(ua, { expires: 120 });
  registerer.stateChange.addListener((st) => {
    const el = $("reg-state");
    el.dataset.state = st === RegistererState.Registered ? "registered" : "offline";
    el.textContent = st === RegistererState.Registered ? "Đã đăng ký với tổng đài" : "Chưa đăng ký";
  });
  await ua.start();
  await registerer.register();
  showState(await api("/phone/state"));
  setInterval(() => { api("/phone/state").then(showState).catch(() => {}); }, 3000);   // calls, wrap-up, the supervisor
}

$("btn-available").addEventListener("click", () => setState("available"));
$("btn-pause").addEventListener("click", () => setState("paused"));
$("btn-logout").addEventListener("click", () => setState("logged_out"));
$("btn-answer").addEventListener("click", () => {
  if (session && session.state === SessionState.Initial) {
    session.accept({ sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } } })
      .catch((err) => say("call-msg", "Không trả lời được: " + err.message));
  }
});
$("btn-hangup").addEventListener("click", () => {
  if (!session) { return; }
  if (session.state === SessionState.Established) { session.bye(); } else { session.reject({ statusCode: 603 }); }
});
$("btn-mute").addEventListener("click", (e) => {
  if (!session || !session.sessionDescriptionHandler) { return; }
  const muted = e.currentTarget.getAttribute("aria-pressed") !== "true";
  session.sessionDescriptionHandler.peerConnection.getSenders().forEach((s) => { if (s.track) { s.track.enabled = !muted; } });
  e.currentTarget.setAttribute("aria-pressed", String(muted));
  e.currentTarget.textContent = muted ? "Bật tiếng" : "Tắt tiếng";
});
$("btn-hold").addEventListener("click", (e) => {
  // A re-INVITE with the audio sendonly (SIP.js turns the transceiver's direction): Asterisk plays
  // hold music to the caller until the next re-INVITE puts it back to sendrecv.
  const btn = e.currentTarget;
  if (!session || session.state !== SessionState.Established || btn.dataset.busy) { return; }
  const hold = btn.getAttribute("aria-pressed") !== "true";
  btn.dataset.busy = "1";
  const done = (msg) => { delete btn.dataset.busy; if (msg) { say("call-msg", msg); } };
  session.invite({
    sessionDescriptionHandlerOptions: { hold },
    requestDelegate: {
      onAccept: () => {
        btn.setAttribute("aria-pressed", String(hold));
        btn.textContent = hold ? "Tiếp tục" : "Giữ máy";
        $("call-card").dataset.hold = String(hold);
        done(hold ? "Người gọi đang nghe nhạc chờ." : "Đã nối lại với người gọi.");
      },
      onReject: (res) => done((hold ? "Không giữ máy được: " : "Không lấy lại cuộc gọi được: ")
                             + res.message.statusCode + " " + res.message.reasonPhrase),
    },
  }).catch((err) => done("Không giữ máy được: " + err.message));
});
document.querySelectorAll(".dtmf .key").forEach((b) => b.addEventListener("click", () => {
  if (session && session.sessionDescriptionHandler) { session.sessionDescriptionHandler.sendDtmf(b.dataset.key); }
}));
async function transfer(isAttended) {
  const target = $("xfer-search").value.trim();
  if (!target.includes(":")) { say("call-msg", "Chọn đầu mối trong danh sách (ví dụ department:03)."); return; }
  try {
    await api("/phone/transfer", { call_id: callId, target, attended: isAttended });
    attended = isAttended;
    $("btn-back").hidden = !isAttended;
    say("call-msg", isAttended ? "Đang gọi đầu mối; gác máy để chuyển, hoặc quay lại người gọi."
                               : "Đã chuyển cuộc gọi.");
  } catch (err) { say("call-msg", "Không chuyển được: " + err.message); }
}
$("btn-blind").addEventListener("click", () => transfer(false));
$("btn-attended").addEventListener("click", () => transfer(true));
$("btn-back").addEventListener("click", async () => {    // the console ends the consultation over AMI
  if (!session || !attended) { return; }
  try {
    await api("/phone/transfer/back", { call_id: callId });
    attended = false;
    $("btn-back").hidden = true;
    say("call-msg", "Đã quay lại với người gọi.");
  } catch (err) { say("call-msg", "Không quay lại được: " + err.message); }
});
$("ticket-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const t = await api("/phone/ticket", { call_id: callId, caller, category: $("ticket-category").value,
                                           content: $("ticket-content").value });
    say("ticket-msg", `Đã lưu phiếu ${t.code}.`);
    $("ticket-msg").dataset.code = t.code;
    $("ticket-content").value = "";
  } catch (err) { say("ticket-msg", "Chưa lưu được phiếu: " + err.message); }
});

// The transfer box: the console searches the directory by name, diacritics ignored ("my tho" finds
// "Phường Mỹ Tho"), or by code; choosing a result puts its kind:code in the box.
let xferTimer = null;
$("xfer-search").addEventListener("input", () => {
  clearTimeout(xferTimer);
  say("xfer-chosen", "");
  xferTimer = setTimeout(async () => {
    const list = $("xfer-results");
    const q = $("xfer-search").value.trim();
    const found = q ? await api("/phone/directory?q=" + encodeURIComponent(q)).catch(() => ({ agencies: [] }))
                    : { agencies: [] };
    list.textContent = "";
    found.agencies.forEach((a) => {
      const li = document.createElement("li");
      const pick = document.createElement("button");
      pick.type = "button"; pick.className = "secondary"; pick.dataset.target = a.target;
      pick.textContent = `${a.name} (${a.kind_label}, mã ${a.code})`;
      pick.addEventListener("click", () => {
        $("xfer-search").value = a.target;
        say("xfer-chosen", a.name);
        list.textContent = "";
      });
      li.append(pick);
      list.append(li);
    });
  }, 200);
});

let kbTimer = null;
$("kb-q").addEventListener("input", () => {
  clearTimeout(kbTimer);
  kbTimer = setTimeout(async () => {
    const list = $("kb-results");
    const found = await api("/kb/search?q=" + encodeURIComponent($("kb-q").value)).catch(() => ({ articles: [] }));
    list.textContent = "";
    found.articles.forEach((a) => {
      const li = document.createElement("li");
      const link = document.createElement("a");
      link.href = "/kb/" + a.id; link.target = "_blank"; link.textContent = a.title;
      li.append(link, document.createTextNode(` — ${a.time_limit}; ${a.fees}`));
      list.append(li);
    });
  }, 250);
});

main().catch((err) => { $("reg-state").dataset.state = "failed"; say("reg-state", "Không kết nối được: " + err.message); });

// A call out to any number: the console has Asterisk ring this softphone first (it answers like any call), then
// the number; a number the hotline never calls is refused with the reason in Vietnamese.
$("call-out").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const placed = await api("/phone/call", { number: $("out-number").value });
    say("out-msg", placed.message);
  } catch (err) { say("out-msg", "Không gọi được: " + err.message); }
});
