// Live lectures, without page reloads: the live widget of the session page (countdown, the
// live player with 直播中 and 回到直播, watch reports, then 回放生成中 and the replay) and the
// organizer's live page (key shown on request, key rotation, the ingest figures). Both poll
// GET /api/v1/sessions/{id}/live.
(function () {
  'use strict';
  var POLL_MS = 2500;
  var POLL_HIDDEN_MS = 10000;
  var REPORT_MS = 10000;
  // behind the live edge by more than this many seconds: offer 回到直播
  var BEHIND_S = 6;

  function $(id) { return document.getElementById(id); }
  function show(el, on) { if (el) el.hidden = !on; }
  function text(el, value) { if (el && el.textContent !== value) el.textContent = value; }
  function api(session) { return '/api/v1/sessions/' + encodeURIComponent(session) + '/live'; }

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function countdown(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var d = Math.floor(s / 86400);
    var h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60);
    var rest = pad(h) + ':' + pad(m) + ':' + pad(s % 60);
    return '距开始还有 ' + (d > 0 ? d + ' 天 ' : '') + rest;
  }

  // Poll the live API until told to stop; slower while the tab is hidden.
  function poller(session, onData, onRefused) {
    var stopped = false;
    function next() {
      if (stopped) return;
      setTimeout(once, document.visibilityState === 'hidden' ? POLL_HIDDEN_MS : POLL_MS);
    }
    function once() {
      fetch(api(session), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) {
          if (r.status === 401 || r.status === 403) {
            stopped = true;
            onRefused(r.status);
            return null;
          }
          return r.ok ? r.json() : null;
        })
        .then(function (data) { if (data) onData(data); })
        .catch(function () {})
        .then(next);
    }
    next();
  }

  // ---------- the session page ----------

  function initViewer(box) {
    var session = box.dataset.session;
    var loggedIn = box.dataset.auth === '1';
    var startsAt = Date.parse(box.dataset.startsAt || '');
    var endsAt = Date.parse(box.dataset.endsAt || '');
    var el = {
      badge: $('live-badge'), viewers: $('live-viewers'), countdown: $('live-countdown'),
      left: $('live-countdown-left'), waiting: $('live-waiting'), over: $('live-over'),
      player: $('live-player'), video: $('live-video'), edge: $('live-edge'), note: $('live-note'),
      pending: $('live-pending'), replay: $('live-replay'), replayLink: $('live-replay-link')
    };
    var state = box.dataset.state;
    var hls = null;
    var source = null;
    var lastReported = null;

    function scheduleTimes(idle) {
      var now = Date.now();
      var upcoming = idle && isFinite(startsAt) && now < startsAt;
      var waiting = idle && isFinite(startsAt) && now >= startsAt && (!isFinite(endsAt) || now < endsAt);
      show(el.countdown, upcoming);
      show(el.waiting, waiting);
      show(el.over, idle && !upcoming && !waiting);
      if (upcoming) text(el.left, countdown(startsAt - now));
    }

    function stopPlayer() {
      if (hls) { hls.destroy(); hls = null; }
      if (source) {
        el.video.removeAttribute('src');
        el.video.load();
      }
      source = null;
      show(el.player, false);
      show(el.edge, false);
    }

    function startPlayer(url) {
      if (!el.video || source === url) return;
      stopPlayer();
      source = url;
      show(el.player, true);
      text(el.note, '');
      var play = function () {
        var p = el.video.play();
        if (p && p.catch) p.catch(function () { text(el.note, '点击播放按钮开始观看'); });
      };
      if (window.Hls && window.Hls.isSupported()) {
        // the worker would need a blob: script; the main thread is fast enough for lectures
        hls = new window.Hls({ lowLatencyMode: true, enableWorker: false, backBufferLength: 60 });
        hls.loadSource(url);
        hls.attachMedia(el.video);
        hls.on(window.Hls.Events.MANIFEST_PARSED, play);
        hls.on(window.Hls.Events.ERROR, function (_e, data) {
          if (!data.fatal || !hls) return;
          if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
            hls.recoverMediaError();
          } else {
            // the live moved on (a new live of the session) or the network hiccupped: the
            // next poll starts over with the current URL
            var failed = source;
            setTimeout(function () { if (source === failed) stopPlayer(); }, 1000);
          }
        });
      } else if (el.video.canPlayType('application/vnd.apple.mpegurl')) {
        el.video.src = url;
        play();
      } else {
        text(el.note, '当前浏览器无法播放直播，请使用最新版 Chrome、Edge、Firefox 或 Safari。');
      }
    }

    // The wall-clock time of the frame on screen (EXT-X-PROGRAM-DATE-TIME).
    function playingDate() {
      if (hls) return hls.playingDate;
      if (source && el.video.getStartDate) {
        var start = el.video.getStartDate().getTime();
        if (isFinite(start)) return new Date(start + el.video.currentTime * 1000);
      }
      return null;
    }

    function report() {
      if (!loggedIn || !source || el.video.paused) return;
      var d = playingDate();
      if (!d || isNaN(d.getTime())) return;
      var at = d.toISOString();
      if (at === lastReported) return;
      lastReported = at;
      fetch(api(session) + '/watch', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        credentials: 'same-origin',
        body: JSON.stringify({ playing_date: at })
      }).catch(function () {});
    }

    function behindLive() {
      if (hls && hls.liveSyncPosition !== null && hls.liveSyncPosition !== undefined) {
        return hls.liveSyncPosition - el.video.currentTime;
      }
      var s = el.video.seekable;
      if (source && s && s.length) return s.end(s.length - 1) - el.video.currentTime - 3;
      return 0;
    }

    function render(data) {
      state = data.state;
      var live = state === 'live';
      var ended = state === 'ended';
      show(el.badge, live);
      show(el.viewers, live);
      text(el.viewers, data.viewers + ' 人正在观看');
      scheduleTimes(state === 'idle');
      if (live && data.hls_url) {
        startPlayer(data.hls_url);
      } else if (!ended || !source || el.video.paused || el.video.ended) {
        // after the end the player may finish what it buffered; then it gives way
        stopPlayer();
      }
      var replay = ended && data.lecture_id !== null && data.lecture_id !== undefined;
      if (replay && el.replayLink) el.replayLink.href = '/lectures/' + data.lecture_id;
      show(el.replay, replay);
      show(el.pending, ended && data.replay_pending);
    }

    if (el.video) {
      el.video.addEventListener('pause', report);
      if (el.edge) {
        el.edge.addEventListener('click', function () {
          if (hls && hls.liveSyncPosition) el.video.currentTime = hls.liveSyncPosition;
          else if (el.video.seekable.length) el.video.currentTime = el.video.seekable.end(el.video.seekable.length - 1) - 3;
          el.video.play();
        });
      }
    }
    setInterval(function () {
      if (state === 'idle') scheduleTimes(true);
      show(el.edge, state === 'live' && !!source && behindLive() > BEHIND_S);
    }, 1000);
    setInterval(report, REPORT_MS);

    scheduleTimes(state === 'idle');
    if (state === 'live' && box.dataset.hls) startPlayer(box.dataset.hls);
    poller(session, render, function (status) {
      stopPlayer();
      show(el.badge, false);
      text(el.waiting, status === 401 ? '登录已失效，请重新登录后观看。' : '您的账号暂无观看权限，请刷新页面查看原因。');
      show(el.waiting, true);
    });
  }

  // ---------- the organizer's live page ----------

  var STATE_ZH = { idle: '未开始', live: '直播中', ended: '已结束' };

  function bitrate(bps) {
    return bps >= 1000000 ? (bps / 1000000).toFixed(1) + ' Mbps' : Math.floor(bps / 1000) + ' kbps';
  }
  // "2026-12-01T14:30:05+08:00" (the program's offset) as "2026-12-01 14:30:05"
  function localTime(s) { return s ? s.slice(0, 19).replace('T', ' ') : '—'; }

  function cell(row, value, cls) {
    var td = document.createElement('td');
    td.textContent = value;
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  function chartPoints(samples, width, height) {
    if (samples.length < 2) return '';
    var first = Date.parse(samples[0].at);
    var span = Date.parse(samples[samples.length - 1].at) - first;
    var peak = 1;
    samples.forEach(function (s) { peak = Math.max(peak, s.viewers); });
    if (!(span > 0)) return '';
    return samples.map(function (s) {
      var x = (Date.parse(s.at) - first) / span * width;
      var y = height - s.viewers / peak * height;
      return x.toFixed(1) + ',' + y.toFixed(1);
    }).join(' ');
  }

  function initAdmin(root) {
    var session = root.dataset.session;
    var toggle = $('show-key');
    if (toggle) {
      toggle.addEventListener('click', function () {
        var open = toggle.getAttribute('aria-expanded') !== 'true';
        Array.prototype.forEach.call(root.querySelectorAll('.secret'), function (e) { e.hidden = !open; });
        Array.prototype.forEach.call(root.querySelectorAll('.secret-mask'), function (e) { e.hidden = open; });
        toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
        toggle.textContent = open ? '隐藏密钥' : '显示密钥';
      });
    }
    var rotate = $('rotate-form');
    if (rotate) {
      rotate.addEventListener('submit', function (e) {
        var ok = window.confirm('确定更换推流码吗？旧推流码将立即失效，主讲人需要在推流软件中换用新的推流码。');
        if (!ok) e.preventDefault();
      });
    }

    function render(data) {
      var live = data.state === 'live';
      var stateTag = $('f-state');
      text(stateTag, STATE_ZH[data.state] || data.state);
      if (stateTag) stateTag.className = 'tag' + (live ? ' live-tag' : '');
      text($('f-started'), localTime(data.started_at));
      text($('stream-key'), data.stream_key || '');
      if (data.rtmp_url) text($('rtmp-url'), data.rtmp_url);
      if (data.srt_url) text($('srt-url'), data.srt_url);
      text($('f-viewers'), String(data.viewers));
      var f = data.figures;
      if (!f) return;
      text($('f-bitrate'), live ? bitrate(f.incoming_bitrate_bps) : '—');
      text($('f-fps'), live ? f.incoming_fps.toFixed(1) : '—');
      text($('f-lag'), live ? (f.lag_ms / 1000).toFixed(1) + ' 秒' : '—');
      text($('f-keyframe'), f.keyframe_interval_s === null ? '—' : f.keyframe_interval_s.toFixed(1) + ' 秒');
      show($('f-keyframe-warn'), f.keyframe_warning);
      text($('f-peak'), String(f.peak_viewers));

      var rungs = $('f-rungs');
      if (rungs) {
        var items = f.rungs.map(function (r) {
          var li = document.createElement('li');
          var tag = document.createElement('span');
          tag.className = 'tag ' + (r.active ? 'ok' : 'bad');
          tag.textContent = r.name;
          li.appendChild(tag);
          li.appendChild(document.createTextNode(' ' + (r.height > 0 ? r.width + '×' + r.height : '音频') +
            (r.passthrough ? '（原画）' : '') + (r.active ? '' : '（已停止）')));
          return li;
        });
        rungs.replaceChildren.apply(rungs, items);
        show($('f-rungs-empty'), items.length === 0);
      }
      show($('f-dropped'), f.dropped_rungs.length > 0);
      text($('f-dropped-list'), f.dropped_rungs.map(function (d) { return d.name; }).join('、'));

      var line = $('f-chart-line');
      if (line) line.setAttribute('points', chartPoints(f.viewer_samples, 600, 120));
      show($('f-chart-empty'), f.viewer_samples.length < 2);

      var body = $('f-refusals');
      if (body) {
        var rows = f.refusals.map(function (r) {
          var tr = document.createElement('tr');
          cell(tr, localTime(r.at));
          cell(tr, r.protocol.toUpperCase());
          cell(tr, r.reason);
          cell(tr, r.remote || '—', 'mono');
          return tr;
        });
        body.replaceChildren.apply(body, rows);
        show($('f-refusals-empty'), rows.length === 0);
      }
    }

    poller(session, render, function () {});
  }

  var box = $('live');
  if (box && box.dataset.session && box.dataset.poll === '1') initViewer(box);
  var admin = $('live-admin');
  if (admin && admin.dataset.session) initAdmin(admin);
})();
