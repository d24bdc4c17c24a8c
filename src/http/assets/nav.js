// On phones the navigation folds into a 菜单 button (without scripts the list stays open).
(function () {
  'use strict';
  var header = document.querySelector('.site-header');
  var button = header && header.querySelector('.menu-toggle');
  if (!button) return;
  header.classList.add('js-menu');
  button.hidden = false;
  function set(open) {
    button.setAttribute('aria-expanded', open ? 'true' : 'false');
    header.classList.toggle('open', open);
  }
  button.addEventListener('click', function () {
    set(button.getAttribute('aria-expanded') !== 'true');
  });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && header.classList.contains('open')) {
      set(false);
      button.focus();
    }
  });
})();
