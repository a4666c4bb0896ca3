(function () {
  "use strict";
  var form = document.getElementById("filter-form");
  var cases = Array.prototype.slice.call(document.querySelectorAll("article.case"));
  var shown = document.getElementById("shown-count");
  var PROBLEMS = ["FAIL", "XPASS", "ERROR"];
  function checked(name) {
    return Array.prototype.slice.call(form.querySelectorAll("input[name=" + name + "]:checked"))
      .map(function (i) { return i.value; });
  }
  function apply() {
    var verdicts = checked("verdict"), levels = checked("level");
    var area = form.elements.area.value, text = form.elements.text.value.trim().toLowerCase();
    var n = 0;
    cases.forEach(function (c) {
      var ok = verdicts.indexOf(c.dataset.verdict) >= 0 && levels.indexOf(c.dataset.level) >= 0 &&
        (!area || c.dataset.area === area) && (!text || c.dataset.text.indexOf(text) >= 0);
      c.classList.toggle("hidden", !ok);
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + cases.length + " cases shown";
  }
  function setVerdicts(list) {
    form.querySelectorAll("input[name=verdict]").forEach(function (i) {
      i.checked = list === null || list.indexOf(i.value) >= 0;
    });
    apply();
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  document.getElementById("only-problems").addEventListener("click", function () { setVerdicts(PROBLEMS); });
  document.getElementById("show-all").addEventListener("click", function () { setVerdicts(null); });
  function openTarget() {
    var el = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (el && el.classList.contains("case")) {
      el.classList.remove("hidden");
      el.querySelector("details").open = true;
    }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  apply();
})();
