// Recording upload with a progress bar, then live transcode progress (server-sent events).
(function () {
  'use strict';
  var form = document.getElementById('upload-form');
  var bar = document.getElementById('job-progress');
  var status = document.getElementById('job-status');
  function show(text) { if (status) status.textContent = text; }
  function watchJob(id) {
    if (!window.EventSource) return;
    var es = new EventSource('/api/v1/jobs/' + id + '/events');
    es.addEventListener('job', function (ev) {
      var j = JSON.parse(ev.data);
      if (bar) { bar.hidden = false; bar.value = j.progress || 0; }
      if (j.state === 'queued') show('排队等待转码…');
      else if (j.state === 'running') {
        var eta = j.eta_s != null ? '，预计还需 ' + Math.max(1, Math.round(j.eta_s)) + ' 秒' : '';
        show('转码中 ' + Math.round((j.progress || 0) * 100) + '%' + eta);
      } else if (j.state === 'done') { show('转码完成。'); es.close(); location.reload(); }
      else if (j.state === 'failed') { show('转码失败：' + (j.error || '')); es.close(); location.reload(); }
    });
    // the server could not read the job any more: say so instead of freezing
    es.addEventListener('problem', function (ev) { show(ev.data); es.close(); });
    es.onerror = function () { es.close(); };
  }
  if (form) {
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var file = form.querySelector('input[type=file]').files[0];
      if (!file) { show('请选择录像文件。'); return; }
      var data = new FormData();
      data.append('file', file);
      var xhr = new XMLHttpRequest();
      xhr.open('POST', form.action);
      xhr.setRequestHeader('X-CSRF-Token', form.dataset.csrf);
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.onprogress = function (ev) {
        if (ev.lengthComputable && bar) {
          bar.hidden = false;
          bar.value = ev.loaded / ev.total;
          show('上传中 ' + Math.round(100 * ev.loaded / ev.total) + '%');
        }
      };
      xhr.onload = function () {
        if (xhr.status === 202) {
          show('上传完成，等待转码…');
          watchJob(JSON.parse(xhr.responseText).job_id);
        } else {
          try { show(JSON.parse(xhr.responseText).detail); } catch (_) { show('上传失败（' + xhr.status + '）'); }
        }
      };
      xhr.onerror = function () { show('网络错误，上传未完成，请重试。'); };
      xhr.send(data);
    });
  }
  var running = document.querySelector('[data-job-running]');
  if (running) watchJob(running.getAttribute('data-job-running'));
})();
