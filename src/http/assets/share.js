// 分享: copy the page's link (the field stays selectable where the clipboard is refused).
document.querySelectorAll('[data-copy]').forEach(function (b) {
  b.addEventListener('click', function () {
    var field = document.getElementById(b.dataset.copy);
    if (!field) return;
    var done = b.parentNode.parentNode.querySelector('[data-copied]');
    function shown() { if (done) { done.hidden = false; } }
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(shown, function () { document.execCommand('copy') && shown(); });
    } else if (document.execCommand('copy')) {
      shown();
    }
  });
});
