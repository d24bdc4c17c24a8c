// The lecture player: hls.js (or native HLS), quality and speed menus, resume, keyboard
// control, and progress reports that become attendance.
(function () {
  'use strict';
  var video = document.getElementById('video');
  if (!video) return;
  var src = video.dataset.src;
  var lecture = video.dataset.lecture;
  var loggedIn = video.dataset.auth === '1';
  var storeKey = 'pufa:lecture:' + lecture + ':position';
  var resume = parseFloat(video.dataset.resume || '0') || 0;
  if (!loggedIn) {
    resume = parseFloat(localStorage.getItem(storeKey) || '0') || 0;
  }
  // the server applies the same rule to a logged-in viewer's position (archive::watch)
  var duration = parseFloat(video.dataset.duration || '0') || 0;
  if (resume <= 5 || (duration > 0 && resume >= duration - 10)) resume = 0;
  var quality = document.getElementById('quality');
  var speed = document.getElementById('speed');
  var hls = null;

  function resumeAt(t) {
    if (t > 5 && isFinite(video.duration) && t < video.duration - 10) video.currentTime = t;
  }

  if (window.Hls && window.Hls.isSupported()) {
    // the worker would need a blob: script; the main thread is fast enough for lectures
    hls = new window.Hls({ enableWorker: false, startPosition: resume > 5 ? resume : -1 });
    hls.loadSource(src);
    hls.attachMedia(video);
    hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
      // rebuild the menu from the levels the player really has
      while (quality.options.length > 1) quality.remove(1);
      var levels = hls.levels.map(function (l, i) { return { i: i, h: l.height }; })
        .filter(function (l) { return l.h > 0; })
        .sort(function (a, b) { return b.h - a.h; });
      levels.forEach(function (l) {
        var o = document.createElement('option');
        o.value = String(l.i);
        o.textContent = l.h + 'p';
        quality.appendChild(o);
      });
    });
    hls.on(window.Hls.Events.ERROR, function (_e, data) {
      if (data.fatal && data.type === window.Hls.ErrorTypes.NETWORK_ERROR) hls.startLoad();
      else if (data.fatal && data.type === window.Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    });
    quality.addEventListener('change', function () {
      hls.currentLevel = parseInt(quality.value, 10);
    });
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = src;
    video.addEventListener('loadedmetadata', function () { resumeAt(resume); }, { once: true });
    // native HLS chooses the quality itself
    quality.disabled = true;
  }

  // captions: the HLS subtitle rendition (hls.js or the browser's own HLS); the choice is
  // remembered on this device
  var cc = document.getElementById('cc');
  var ccKey = 'pufa:captions';
  function showCaptions(on) {
    if (hls) {
      hls.subtitleDisplay = on;
      hls.subtitleTrack = on ? 0 : -1;
    }
    for (var i = 0; i < video.textTracks.length; i++) {
      var t = video.textTracks[i];
      if (t.kind === 'subtitles' || t.kind === 'captions') t.mode = on ? 'showing' : 'disabled';
    }
    if (cc) cc.setAttribute('aria-pressed', on ? 'true' : 'false');
    try { localStorage.setItem(ccKey, on ? '1' : '0'); } catch (e) { /* private mode */ }
  }
  if (cc) {
    var ccOn = localStorage.getItem(ccKey) === '1';
    cc.addEventListener('click', function () { showCaptions(cc.getAttribute('aria-pressed') !== 'true'); });
    if (hls) {
      hls.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, function () { showCaptions(ccOn); });
    } else {
      video.textTracks.addEventListener('addtrack', function () { showCaptions(ccOn); });
    }
    cc.setAttribute('aria-pressed', ccOn ? 'true' : 'false');
  }

  // chapters: the list and the markers seek; the current chapter is marked in the list
  var chapterButtons = Array.prototype.slice.call(document.querySelectorAll('[data-seek]'));
  chapterButtons.forEach(function (b) {
    b.addEventListener('click', function () {
      video.currentTime = parseFloat(b.dataset.seek) || 0;
      if (video.paused) video.play();
    });
  });
  var listed = chapterButtons.filter(function (b) { return b.classList.contains('chapter'); });
  if (listed.length) {
    video.addEventListener('timeupdate', function () {
      var current = null;
      listed.forEach(function (b) { if (parseFloat(b.dataset.seek) <= video.currentTime + 0.25) current = b; });
      listed.forEach(function (b) { b.setAttribute('aria-current', b === current ? 'true' : 'false'); });
    });
  }

  speed.addEventListener('change', function () {
    video.playbackRate = parseFloat(speed.value) || 1;
  });

  var lastSent = -1;
  function report(useBeacon) {
    var pos = video.currentTime || 0;
    if (!loggedIn) {
      localStorage.setItem(storeKey, String(pos));
      return;
    }
    if (Math.abs(pos - lastSent) < 0.5) return;
    lastSent = pos;
    var body = JSON.stringify({ position_s: pos });
    fetch('/api/v1/lectures/' + lecture + '/progress', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      credentials: 'same-origin',
      keepalive: !!useBeacon,
      body: body
    }).catch(function () {});
  }
  setInterval(function () { if (!video.paused) report(false); }, 15000);
  video.addEventListener('play', function () { report(false); });
  video.addEventListener('pause', function () { report(false); });
  video.addEventListener('ended', function () { report(false); });
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'hidden') report(true);
  });

  // shortcuts only while the player (the video or its controls) has focus: elsewhere the
  // arrow keys scroll the page, and Space always activates a focused button
  var box = document.getElementById('player') || video;
  box.addEventListener('keydown', function (e) {
    var tag = (e.target && e.target.tagName) || '';
    if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA' || tag === 'BUTTON' || tag === 'A' ||
        e.ctrlKey || e.metaKey || e.altKey) return;
    switch (e.key) {
      case ' ': case 'k': case 'K':
        if (video.paused) video.play(); else video.pause();
        break;
      case 'ArrowLeft': video.currentTime = Math.max(0, video.currentTime - 5); break;
      case 'ArrowRight': video.currentTime = Math.min(video.duration || 0, video.currentTime + 5); break;
      case 'ArrowUp': video.volume = Math.min(1, video.volume + 0.1); break;
      case 'ArrowDown': video.volume = Math.max(0, video.volume - 0.1); break;
      case 'f': case 'F':
        if (document.fullscreenElement) document.exitFullscreen(); else video.requestFullscreen();
        break;
      case 'm': case 'M': video.muted = !video.muted; break;
      default: return;
    }
    e.preventDefault();
  });
})();
