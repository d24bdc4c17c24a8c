// The live page's panel of questions asked during the lecture (企问律答, issue 16): listens to
// /sessions/{id}/questions/events (server-sent events, the whole list on every change) and
// lets the lecturer mark a question 在直播中已解答. Text is set with textContent only: the
// questions are the enterprises' words, never markup.
(function () {
  "use strict";
  var panel = document.getElementById("live-questions");
  if (!panel || !window.EventSource) return;
  var session = panel.getAttribute("data-session");
  var list = document.getElementById("lq-list");
  var empty = document.getElementById("lq-empty");
  var status = document.getElementById("lq-status");
  var labels = { pending: "待分派", assigned: "已分派", answered: "已答复", followup: "已追问", closed: "已关闭" };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function markAnswered(id, button) {
    button.disabled = true;
    fetch("/api/v1/questions/" + id + "/answered-live", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: "{}"
    }).then(function (r) {
      if (r.ok) { button.textContent = "已标记"; return; }
      return r.json().then(function (p) {
        button.disabled = false;
        status.textContent = (p && p.detail) || "操作失败，请稍后再试";
      });
    }).catch(function () {
      button.disabled = false;
      status.textContent = "网络异常，请稍后再试";
    });
  }

  function render(questions) {
    list.textContent = "";
    empty.hidden = questions.length > 0;
    questions.forEach(function (q) {
      var li = el("li", "live-question");
      li.id = "lq-" + q.id;
      var head = el("div");
      head.appendChild(el("span", "tag", labels[q.status] || q.status));
      if (q.answered_live_at) head.appendChild(el("span", "tag ok", "已在直播中解答"));
      head.appendChild(document.createTextNode(" "));
      head.appendChild(el("strong", null, q.title));
      li.appendChild(head);
      li.appendChild(el("p", "prewrap", q.body));
      if (!q.answered_live_at && q.status !== "closed") {
        var b = el("button", "btn secondary small", "在直播中已解答");
        b.type = "button";
        b.addEventListener("click", function () { markAnswered(q.id, b); });
        li.appendChild(b);
      }
      list.appendChild(li);
    });
  }

  var source = new EventSource("/sessions/" + session + "/questions/events");
  source.addEventListener("questions", function (e) {
    status.textContent = "";
    try { render(JSON.parse(e.data)); } catch (err) { status.textContent = "无法显示提问"; }
  });
  source.onerror = function () { status.textContent = "连接中断，正在重连…"; };
})();
