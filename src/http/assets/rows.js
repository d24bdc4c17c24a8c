// Forms with repeated rows (weekly slots, dates): the 添加 button appends an empty copy of the
// last row. Without JS the form still offers blank rows, and saving offers more.
(function () {
  document.querySelectorAll('fieldset').forEach(function (set) {
    var list = set.querySelector('[data-repeat]');
    var button = set.querySelector('[data-add-row]');
    if (!list || !button) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      var rows = list.querySelectorAll('.repeat-row');
      var last = rows[rows.length - 1];
      if (!last) return;
      var copy = last.cloneNode(true);
      var n = rows.length + 1;
      copy.querySelectorAll('input, select').forEach(function (el) {
        if (el.tagName === 'SELECT') el.selectedIndex = 0; else el.value = '';
        var label = el.getAttribute('aria-label');
        if (label) el.setAttribute('aria-label', label.replace(/\d+/, String(n)));
      });
      list.appendChild(copy);
      var first = copy.querySelector('input, select');
      if (first) first.focus();
    });
  });
})();
