// Filters the profile-usage table as you type; the page works without it.
(function () {
  document.querySelectorAll("input[data-filter]").forEach(function (input) {
    var body = document.getElementById(input.getAttribute("data-filter"));
    if (!body) { return; }
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      body.querySelectorAll("tr[data-name]").forEach(function (row) {
        row.hidden = needle !== "" && row.getAttribute("data-name").indexOf(needle) < 0;
      });
    });
  });
})();
