// Theme switch: follows the system until the user picks one; the choice stays in this browser.
(function () {
  var root = document.documentElement;
  var saved = localStorage.getItem('obscura-theme');
  if (saved) root.setAttribute('data-theme', saved);
  var button = document.getElementById('theme');
  if (!button) return;
  button.addEventListener('click', function () {
    var dark = root.getAttribute('data-theme')
      ? root.getAttribute('data-theme') === 'dark'
      : window.matchMedia('(prefers-color-scheme: dark)').matches;
    var next = dark ? 'light' : 'dark';
    root.setAttribute('data-theme', next);
    localStorage.setItem('obscura-theme', next);
  });
})();
