// Live alerts for the officer console: a WebSocket that resumes from the last alert seen.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var list = document.getElementById("alerts");
  if (!status || !list) { return; }
  var lastSeq = parseInt(status.getAttribute("data-last-seq") || "0", 10);
  var delay = 500;

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    el.textContent = value;
    return el;
  }

  function fmt(n) { return Number(n).toFixed(3); }

  function render(a) {
    var card = document.createElement("article");
    card.className = "alert-card";
    card.setAttribute("data-seq", a.seq);
    var h = document.createElement("h2");
    var link = text("a", "Alert " + a.id);
    link.href = a.url;
    h.appendChild(link);
    h.appendChild(document.createTextNode(" · " + (a.category_label || "unknown category")));
    card.appendChild(h);
    var time = (a.observed_at || "").substring(11, 19);
    card.appendChild(text("p", "Score " + fmt(a.score) + " (threshold " + fmt(a.threshold) + ") · camera " +
      a.camera_id + " · " + time + " UTC · " + a.state_label));
    list.insertBefore(card, list.firstChild);
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/api/alerts/ws?after=" + lastSeq);
    ws.onopen = function () { delay = 500; };
    ws.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.type === "alert" && msg.alert.seq > lastSeq) {
        lastSeq = msg.alert.seq;
        render(msg.alert);
      } else if (msg.type === "ready") {
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
