// Render the math written with pymdownx.arithmatex (generic mode) with the KaTeX copy
// shipped in the built site: no request leaves the page.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof katex === "undefined") {
    return;
  }
  document.querySelectorAll(".arithmatex").forEach(function (el) {
    var tex = el.textContent.trim();
    var display = el.tagName === "DIV";
    if (tex.startsWith("\\(") || tex.startsWith("\\[")) {
      tex = tex.slice(2, -2);
    }
    katex.render(tex, el, { displayMode: display, throwOnError: false });
  });
});
