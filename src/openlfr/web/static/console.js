// Live alerts for the officer console: a WebSocket that resumes from the last alert seen, shows each new
// alert highlighted (with a sound if the officer turned it on), and updates a card when anyone decides.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var list = document.getElementById("alerts");
  if (!status || !list) { return; }
  var lastSeq = parseInt(status.getAttribute("data-last-seq") || "0", 10);
  var delay = 500;
  var sound = document.getElementById("alert-sound");
  var OPEN_STATES = { "raised": true, "passed_to_engagement": true };

  if (sound) {
    // The officer's choice, remembered on this device only.
    sound.checked = window.localStorage && localStorage.getItem("openlfr-alert-sound") === "on";
    sound.addEventListener("change", function () {
      if (window.localStorage) { localStorage.setItem("openlfr-alert-sound", sound.checked ? "on" : "off"); }
    });
  }

  function beep() {
    if (!sound || !sound.checked) { return; }
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    try {
      var ctx = new Ctx();
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.2;
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.4);
    } catch (e) { /* no audio device: the highlight is enough */ }
  }

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    el.textContent = value;
    return el;
  }

  function fmt(n) { return Number(n).toFixed(3); }

  function render(a, isNew) {
    var card = document.createElement("article");
    card.className = "alert-card" + (isNew ? " new" : "") + (OPEN_STATES[a.state] ? "" : " decided");
    card.setAttribute("data-seq", a.seq);
    card.setAttribute("data-id", a.id);
    var h = document.createElement("h2");
    if (isNew) { h.appendChild(text("span", "New ", "badge new-badge")); }
    var link = text("a", "Alert " + a.id);
    link.href = a.url;
    h.appendChild(link);
    h.appendChild(document.createTextNode(" · " + (a.category_label || "unknown category")));
    card.appendChild(h);
    var time = (a.observed_at || "").substring(11, 19);
    var p = text("p", "Score " + fmt(a.score) + " (threshold " + fmt(a.threshold) + ") · camera " +
      a.camera_id + " · " + time + " UTC · ");
    p.appendChild(text("strong", a.state_label, "state"));
    card.appendChild(p);
    list.insertBefore(card, list.firstChild);
    if (isNew) { beep(); }
  }

  function update(a) {
    var card = list.querySelector('article[data-id="' + a.id + '"]');
    if (!card) { return; }
    var state = card.querySelector(".state");
    if (state) { state.textContent = a.state_label; }
    card.classList.remove("new");
    var badge = card.querySelector(".new-badge");
    if (badge) { badge.parentNode.removeChild(badge); }
    card.classList.toggle("decided", !OPEN_STATES[a.state]);
    status.textContent = "Alert " + a.id.substring(0, 8) + "…: " + a.state_label +
      (a.decided_by ? " (" + a.decided_by + ")" : "") + ".";
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/api/alerts/ws?after=" + lastSeq);
    var ready = false;
    ws.onopen = function () { delay = 500; };
    ws.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.type === "alert" && msg.alert.seq > lastSeq) {
        lastSeq = msg.alert.seq;
        render(msg.alert, true);
        if (ready) { status.textContent = "New alert: " + (msg.alert.category_label || "unknown category") + ", camera " + msg.alert.camera_id + "."; }
      } else if (msg.type === "update") {
        update(msg.alert);
      } else if (msg.type === "ready") {
        ready = true;
        status.setAttribute("data-ready", "yes");
        status.textContent = "Live: new alerts appear here.";
      }
    };
    ws.onclose = function () {
      status.textContent = "Connection lost; reconnecting…";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
}());
