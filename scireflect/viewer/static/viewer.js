// scireflect trace viewer: render math (KaTeX auto-render works on text nodes only, so stored text
// can never become markup) and draw the graph diagram from the page's own mermaid text.
"use strict";
(function () {
  var MATH = {
    delimiters: [
      {left: "$$", right: "$$", display: true},
      {left: "\\[", right: "\\]", display: true},
      {left: "\\(", right: "\\)", display: false},
      {left: "$", right: "$", display: false}
    ],
    throwOnError: false,
    trust: false
  };

  function renderMath() {
    if (typeof window.renderMathInElement !== "function") { return; }
    var nodes = document.querySelectorAll(".math");
    for (var i = 0; i < nodes.length; i++) { window.renderMathInElement(nodes[i], MATH); }
    document.body.setAttribute("data-math", "done");
  }

  function renderGraph() {
    var src = document.getElementById("graph-src");
    var target = document.getElementById("graph");
    if (!src || !target) { return; }
    if (typeof window.mermaid === "undefined") {
      target.textContent = "the diagram library did not load";
      target.setAttribute("data-rendered", "error");
      return;
    }
    window.mermaid.initialize({startOnLoad: false, securityLevel: "strict", theme: "neutral",
                               flowchart: {htmlLabels: false, useMaxWidth: true}});
    window.mermaid.render("graph-svg", src.textContent).then(function (result) {
      target.innerHTML = result.svg;  // mermaid output from our own diagram text, sanitized by mermaid
      target.setAttribute("data-rendered", "done");
    }).catch(function (err) {
      target.textContent = "the diagram could not be drawn: " + err;
      target.setAttribute("data-rendered", "error");
    });
  }

  document.addEventListener("DOMContentLoaded", function () { renderMath(); renderGraph(); });
})();
